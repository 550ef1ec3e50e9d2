/**
 * Helper of the RSS benchmark: in a fresh process, boots a kernel on a SQLite
 * store in DIR, spawns N processes that each wait on a human approval, and
 * prints one JSON line with the process's memory (RSS, V8 heap) then, and
 * again after SETTLE seconds with nothing to do (V8 gives back the young
 * generation it grew while spawning once its memory reducer has run, some
 * 20–40 s after the last garbage collection with V8's defaults). THREAD "off"
 * opens the store without its writer thread (`writerThread: false`).
 */
import { join } from "node:path";
import { Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";
import { ASKER_IMAGE } from "./asker_image.ts";

const [dir, count = "10000", settle = "0", thread = "on"] = Deno.args;
const n = Number(count);
await using kernel = await Kernel.create({
  store: await SqliteStore.open(join(dir!, "rss.db"), { writerThread: thread !== "off" }),
  filesystem: new MemoryFilesystem(),
  concurrency: 64,
});
await kernel.registerImage(ASKER_IMAGE);
for (let i = 0; i < n; i++) await kernel.spawn({ image: "asker", goal: `ask ${i}` });
await kernel.idle();
const waiting = kernel.humanRequests({ state: "pending" }).length;
if (waiting !== n) throw new Error(`expected ${n} pending requests, saw ${waiting}`);
const now = Deno.memoryUsage();
await new Promise((resolve) => setTimeout(resolve, Number(settle) * 1000));
const settled = Deno.memoryUsage();
console.log(JSON.stringify({
  rss: now.rss,
  heapUsed: now.heapUsed,
  heapTotal: now.heapTotal,
  settledRss: settled.rss,
  settledHeapUsed: settled.heapUsed,
}));
