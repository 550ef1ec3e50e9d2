import { defineTool, z } from "libos/tool";

/** Reads the isolate host's process id with Deno.pid. */
export default defineTool({
  name: "host_facts_pid",
  description: "Reads the isolate host's process id with Deno.pid.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = Deno.pid;
      return Promise.resolve({
        escaped: typeof value === "number",
        observed: `Deno.pid: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
