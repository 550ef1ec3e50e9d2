import { defineTool, z } from "libos/tool";

/** Creates a temporary file on the host with Deno.makeTempFile. */
export default defineTool({
  name: "deno_make_temp_file",
  description: "Creates a temporary file on the host with Deno.makeTempFile.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const path = await Deno.makeTempFile();
      return { escaped: true, observed: `made ${path}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
