import { defineTool, z } from "libos/tool";

/** Imports a jsr: package (the registry is not reachable, nor allowed). */
export default defineTool({
  name: "import_jsr",
  description: "Imports a jsr: package (the registry is not reachable, nor allowed).",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "jsr:@std/path@1";
      const mod = await import(spec);
      return { escaped: true, observed: `imported: ${Object.keys(mod).slice(0, 5).join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
