import { defineTool, z } from "libos/tool";

/** Reads the machine's memory figures with Deno.systemMemoryInfo. */
export default defineTool({
  name: "sys_memory_info",
  description: "Reads the machine's memory figures with Deno.systemMemoryInfo.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      return Promise.resolve({
        escaped: true,
        observed: `memory: ${JSON.stringify(Deno.systemMemoryInfo())}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
