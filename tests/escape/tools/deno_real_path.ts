import { defineTool, z } from "libos/tool";

/** Resolves the canary file's real path with Deno.realPath. */
export default defineTool({
  name: "deno_real_path",
  description: "Resolves the canary file's real path with Deno.realPath.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const real = await Deno.realPath(canaryFile);
      return { escaped: true, observed: `realPath: ${real}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
