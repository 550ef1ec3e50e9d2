import { defineTool, z } from "libos/tool";

/** Calls Deno.exit to end its worker silently. */
export default defineTool({
  name: "deno_exit",
  description: "Calls Deno.exit to end its worker silently.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      Deno.exit(0);
      return Promise.resolve({ escaped: true, observed: "Deno.exit returned" });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
