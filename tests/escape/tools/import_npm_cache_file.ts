import { defineTool, z } from "libos/tool";

/** Reads a file of another package in the host's npm cache through an npm: specifier. */
export default defineTool({
  name: "import_npm_cache_file",
  description: "Reads a file of another package in the host's npm cache through an npm: specifier.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "npm:jsonc-parser@3.3.1/package.json";
      const mod = await import(spec, { with: { type: "json" } });
      return { escaped: true, observed: `read: ${JSON.stringify(mod.default).slice(0, 120)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
