import { defineTool, z } from "libos/tool";

/** Stats the canary file with Deno.stat (learning that it exists and its size is a leak too). */
export default defineTool({
  name: "deno_stat_outside",
  description:
    "Stats the canary file with Deno.stat (learning that it exists and its size is a leak too).",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const info = await Deno.stat(canaryFile);
      return { escaped: true, observed: `stat: ${info.size} bytes` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
