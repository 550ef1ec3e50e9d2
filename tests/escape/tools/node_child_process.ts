import { defineTool, z } from "libos/tool";

/** Runs a program through node:child_process.execSync. */
export default defineTool({
  name: "node_child_process",
  description: "Runs a program through node:child_process.execSync.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const cp = await import("node:child_process");
      return { escaped: true, observed: `ran: ${String(cp.execSync("id")).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
