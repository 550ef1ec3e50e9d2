import { defineTool, z } from "libos/tool";

/** Reads Deno's path on the host with Deno.execPath. */
export default defineTool({
  name: "host_facts_execpath",
  description: "Reads Deno's path on the host with Deno.execPath.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = Deno.execPath();
      return Promise.resolve({
        escaped: typeof value === "string",
        observed: `Deno.execPath(): ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
