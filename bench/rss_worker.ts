/**
 * Helper of the RSS benchmark: in a fresh process, boots a kernel on a SQLite
 * store in DIR, spawns N processes that each wait on a human approval, and
 * prints one JSON line with the process's memory (RSS, V8 heap) then, and
 * 2 s later (an idle collector runs once the kernel is quiet, when V8's gc is
 * exposed: see `runtime/substrate/idle_collector.ts`), and
 * again after SETTLE seconds with nothing to do (V8 gives back the young
 * generation it grew while spawning once its memory reducer has run, some
 * 20–40 s after the last garbage collection with V8's defaults). THREAD "off"
 * opens the store without its writer thread (`writerThread: false`).
 */
import { join } from "node:path";
import { IdleCollector, Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";
import { ASKER_IMAGE } from "./asker_image.ts";

const [dir, count = "10000", settle = "0", thread = "on"] = Deno.args;
const n = Number(count);
await using kernel = await Kernel.create({
  store: await SqliteStore.open(join(dir!, "rss.db"), { writerThread: thread !== "off" }),
  filesystem: new MemoryFilesystem(),
  concurrency: 64,
});
// As `deno task start` does: memory back once the kernel is quiet (with --expose-gc).
using collector = new IdleCollector();
using _activity = kernel.subscribe(() => collector.activity());
collector.start();
await kernel.registerImage(ASKER_IMAGE);
for (let i = 0; i < n; i++) await kernel.spawn({ image: "asker", goal: `ask ${i}` });
await kernel.idle();
const waiting = kernel.humanRequests({ state: "pending" }).length;
if (waiting !== n) throw new Error(`expected ${n} pending requests, saw ${waiting}`);
const now = Deno.memoryUsage();
const sleep = (s: number) => new Promise((resolve) => setTimeout(resolve, s * 1000));
await sleep(Math.min(2, Number(settle)));
const quiet = Deno.memoryUsage();
await sleep(Math.max(0, Number(settle) - 2));
const settled = Deno.memoryUsage();
console.log(JSON.stringify({
  rss: now.rss,
  quietRss: quiet.rss,
  collections: collector.stats.collections,
  heapUsed: now.heapUsed,
  heapTotal: now.heapTotal,
  settledRss: settled.rss,
  settledHeapUsed: settled.heapUsed,
}));
