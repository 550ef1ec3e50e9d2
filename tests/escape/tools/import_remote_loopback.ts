import { defineTool, z } from "libos/tool";

/** Imports a module from the test's loopback listener over HTTP. */
export default defineTool({
  name: "import_remote_loopback",
  description: "Imports a module from the test's loopback listener over HTTP.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const mod = await import(`http://127.0.0.1:${port}/mod.js`);
      return { escaped: true, observed: `imported: ${Object.keys(mod).join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
