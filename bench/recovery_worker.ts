/**
 * Helper of the recovery benchmark: boots a kernel on DIR with scheduling
 * off, spawns N processes (each mid-way through a script), prints READY and
 * waits to be killed with SIGKILL.
 */
import { join } from "node:path";
import { Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";

const [dir, count = "1000"] = Deno.args;
const store = await SqliteStore.open(join(dir!, "kernel.db"));
const kernel = await Kernel.create({ store, filesystem: new MemoryFilesystem(), autostart: false });
await kernel.registerImage({
  id: "resumable",
  name: "resumable",
  version: "1",
  model: {
    provider: "scripted",
    steps: [{ tool: "now", args: {} }, { tool: "now", args: {} }, {
      tool: "exit",
      args: { result: null },
    }],
  },
  tools: ["now", "exit"],
});
await Promise.all(
  Array.from(
    { length: Number(count) },
    (_, i) => kernel.spawn({ image: "resumable", goal: `p${i}` }),
  ),
);
console.log("READY");
await new Promise(() => {});
