import { defineTool, z } from "libos/tool";

/** Calls the Node global process.exit. */
export default defineTool({
  name: "node_process_exit",
  description: "Calls the Node global process.exit.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      (globalThis as unknown as { process: { exit(code: number): void } }).process.exit(0);
      return Promise.resolve({ escaped: true, observed: "process.exit returned" });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
