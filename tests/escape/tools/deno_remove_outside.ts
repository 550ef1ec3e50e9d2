import { defineTool, z } from "libos/tool";

/** Deletes the victim file outside the workspace with Deno.remove. */
export default defineTool({
  name: "deno_remove_outside",
  description: "Deletes the victim file outside the workspace with Deno.remove.",
  input: z.object({ canaryDir: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryDir }) {
    try {
      await Deno.remove(`${canaryDir}/victim.txt`);
      return { escaped: true, observed: "removed victim.txt" };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
