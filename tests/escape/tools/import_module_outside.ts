import { defineTool, z } from "libos/tool";

/** Dynamically imports a JavaScript module planted outside the workspace. */
export default defineTool({
  name: "import_module_outside",
  description: "Dynamically imports a JavaScript module planted outside the workspace.",
  input: z.object({ canaryDir: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryDir }) {
    try {
      const mod = await import(new URL(`file://${canaryDir}/mod.js`).href);
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
