import { defineTool, z } from "libos/tool";

/** Writes a new file next to the canary with Deno.writeTextFile. */
export default defineTool({
  name: "deno_write_outside",
  description: "Writes a new file next to the canary with Deno.writeTextFile.",
  input: z.object({ canaryDir: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryDir }) {
    try {
      await Deno.writeTextFile(`${canaryDir}/planted.txt`, "written by a tool");
      return { escaped: true, observed: "wrote planted.txt outside the workspace" };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
