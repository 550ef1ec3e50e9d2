import { defineTool, z } from "libos/tool";

/** Imports the JSON canary file with an import attribute. */
export default defineTool({
  name: "import_json_outside",
  description: "Imports the JSON canary file with an import attribute.",
  input: z.object({ canaryJson: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryJson }) {
    try {
      const url = new URL(`file://${canaryJson}`).href;
      const mod = await import(url, { with: { type: "json" } });
      return { escaped: true, observed: `imported: ${JSON.stringify(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
