import { defineTool, z } from "libos/tool";

/** Reads the canary file through the Node compatibility layer (node:fs). */
export default defineTool({
  name: "node_fs_read",
  description: "Reads the canary file through the Node compatibility layer (node:fs).",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const fs = await import("node:fs");
      return {
        escaped: true,
        observed: `read: ${fs.readFileSync(canaryFile, "utf8").slice(0, 200)}`,
      };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
