import { defineTool, z } from "libos/tool";

/** Starts a nested Worker from inside the tool. */
export default defineTool({
  name: "worker_global",
  description: "Starts a nested Worker from inside the tool.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const worker = new Worker("data:text/javascript,postMessage(42)", { type: "module" });
      const got = await new Promise<unknown>((resolve) => {
        worker.onmessage = (e) => resolve(e.data);
        setTimeout(() => resolve("no answer"), 500);
      });
      worker.terminate();
      return { escaped: got === 42, observed: `nested Worker answered: ${got}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
