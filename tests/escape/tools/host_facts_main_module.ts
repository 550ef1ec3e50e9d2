import { defineTool, z } from "libos/tool";

/** Reads the host's main module (a path on the host) with Deno.mainModule. */
export default defineTool({
  name: "host_facts_main_module",
  description: "Reads the host's main module (a path on the host) with Deno.mainModule.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = (Deno as unknown as { mainModule?: unknown }).mainModule;
      return Promise.resolve({
        escaped: typeof value === "string",
        observed: `Deno.mainModule: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
