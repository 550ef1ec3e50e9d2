import { defineTool, z } from "libos/tool";

/** Reads the canary file outside the workspace with Deno.readTextFile. */
export default defineTool({
  name: "deno_read_text_file",
  description: "Reads the canary file outside the workspace with Deno.readTextFile.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const text = await Deno.readTextFile(canaryFile);
      return { escaped: true, observed: `read: ${text.slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
