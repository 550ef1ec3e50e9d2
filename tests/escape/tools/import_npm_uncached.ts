import { defineTool, z } from "libos/tool";

/** Imports an npm package that is not in the module cache. */
export default defineTool({
  name: "import_npm_uncached",
  description: "Imports an npm package that is not in the module cache.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "npm:left-pad@1.3.0";
      const mod = await import(spec);
      return { escaped: true, observed: `imported: ${Object.keys(mod).join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
