import { defineTool, z } from "libos/tool";

/** Makes a symlink to the canary with Deno.symlink (a symlink made from inside the tool). */
export default defineTool({
  name: "deno_symlink_make",
  description:
    "Makes a symlink to the canary with Deno.symlink (a symlink made from inside the tool).",
  input: z.object({ canaryFile: z.string(), canaryDir: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile, canaryDir }) {
    try {
      await Deno.symlink(canaryFile, `${canaryDir}/tool_link`);
      return { escaped: true, observed: "made a symlink" };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
