import { defineTool, z } from "libos/tool";

/** Loads a blob: module whose static import names the canary file. */
export default defineTool({
  name: "import_static_in_blob_module",
  description: "Loads a blob: module whose static import names the canary file.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const url = new URL(`file://${canaryFile}`).href;
      const source = `import secret from ${
        JSON.stringify(url)
      } with { type: "text" };\nexport default secret;`;
      const blob = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      const mod = await import(blob);
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
