import { defineTool, z } from "libos/tool";

/** Runs code held in a string by importing it as a data: module. */
export default defineTool({
  name: "data_url_import_code",
  description: "Runs code held in a string by importing it as a data: module.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const spec = "data:text/javascript,export default 6 * 7";
      const mod = await import(spec);
      return { escaped: mod.default === 42, observed: `data: import ran: ${mod.default}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
