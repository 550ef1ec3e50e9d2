import { defineTool, z } from "libos/tool";

/** Reads the host's working directory with Deno.cwd. */
export default defineTool({
  name: "host_facts_cwd",
  description: "Reads the host's working directory with Deno.cwd.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = Deno.cwd();
      return Promise.resolve({
        escaped: typeof value === "string",
        observed: `Deno.cwd(): ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
