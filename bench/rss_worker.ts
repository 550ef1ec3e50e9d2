/**
 * Helper of the RSS benchmark: in a fresh process, boots a kernel on a SQLite
 * store in DIR, spawns N processes that each wait on a human approval, and
 * prints one JSON line with the process's memory (RSS, V8 heap) then.
 */
import { join } from "node:path";
import { Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";

const [dir, count = "10000"] = Deno.args;
const n = Number(count);
await using kernel = await Kernel.create({
  store: await SqliteStore.open(join(dir!, "rss.db")),
  filesystem: new MemoryFilesystem(),
  concurrency: 64,
});
await kernel.registerImage({
  id: "asker",
  name: "asker",
  version: "1",
  tools: ["*"],
  model: {
    provider: "scripted",
    steps: [{ tool: "write_text_file", args: { path: "out/x.txt", text: "x" } }],
  },
  capabilities: [{ resource: "fs:out/**", rights: ["write"], effect: "ask" }],
});
for (let i = 0; i < n; i++) await kernel.spawn({ image: "asker", goal: `ask ${i}` });
await kernel.idle();
const waiting = kernel.humanRequests({ state: "pending" }).length;
if (waiting !== n) throw new Error(`expected ${n} pending requests, saw ${waiting}`);
for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
const m = Deno.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal }));
