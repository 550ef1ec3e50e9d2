import { defineTool, z } from "libos/tool";

/** Starts a SharedWorker from inside the tool. */
export default defineTool({
  name: "shared_worker_global",
  description: "Starts a SharedWorker from inside the tool.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const g = globalThis as unknown as { SharedWorker: new (url: string) => unknown };
      new g.SharedWorker("data:text/javascript,1");
      return Promise.resolve({ escaped: true, observed: "SharedWorker started" });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
