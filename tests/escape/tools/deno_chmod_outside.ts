import { defineTool, z } from "libos/tool";

/** Changes the canary file's mode with Deno.chmod. */
export default defineTool({
  name: "deno_chmod_outside",
  description: "Changes the canary file's mode with Deno.chmod.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      await Deno.chmod(canaryFile, 0o777);
      return { escaped: true, observed: "chmod 777" };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
