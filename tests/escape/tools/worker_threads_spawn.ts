import { defineTool, z } from "libos/tool";

/** Starts a nested worker through node:worker_threads. */
export default defineTool({
  name: "worker_threads_spawn",
  description: "Starts a nested worker through node:worker_threads.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const wt = await import("node:worker_threads");
      const code = "import { parentPort } from 'node:worker_threads'; parentPort.postMessage(42);";
      const worker = new wt.Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
      const got = await new Promise<unknown>((resolve) => {
        worker.on("message", (m: unknown) => resolve(m));
        worker.on("error", (e: Error) => resolve(String(e)));
        setTimeout(() => resolve("no answer"), 1000);
      });
      await worker.terminate();
      return { escaped: got === 42, observed: `node:worker_threads worker answered: ${got}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
