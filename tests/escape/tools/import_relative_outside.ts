import { defineTool, z } from "libos/tool";

/** Imports ../outside/secret.txt relative to the tool's own module. */
export default defineTool({
  name: "import_relative_outside",
  description: "Imports ../outside/secret.txt relative to the tool's own module.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "../outside/secret.txt";
      const mod = await import(spec, { with: { type: "text" } });
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
