import { defineTool, z } from "libos/tool";

/** Closes its own worker with the global close(), so that its call never answers. */
export default defineTool({
  name: "worker_close",
  description: "Closes its own worker with the global close(), so that its call never answers.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    (globalThis as unknown as { close(): void }).close();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    return { escaped: true, observed: "close() returned" };
  },
});
