import { defineTool, z } from "libos/tool";

/** Imports the canary file as text with an import attribute. */
export default defineTool({
  name: "import_text_outside",
  description: "Imports the canary file as text with an import attribute.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const url = new URL(`file://${canaryFile}`).href;
      const mod = await import(url, { with: { type: "text" } });
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
