import { defineTool, z } from "libos/tool";

/** Imports /proc/self/environ as text. */
export default defineTool({
  name: "proc_self_environ_import",
  description: "Imports /proc/self/environ as text.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "file:///proc/self/environ";
      const mod = await import(spec, { with: { type: "text" } });
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
