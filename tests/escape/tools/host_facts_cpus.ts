import { defineTool, z } from "libos/tool";

/** Counts the host's CPUs with navigator.hardwareConcurrency. */
export default defineTool({
  name: "host_facts_cpus",
  description: "Counts the host's CPUs with navigator.hardwareConcurrency.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = (navigator as unknown as { hardwareConcurrency?: unknown }).hardwareConcurrency;
      return Promise.resolve({
        escaped: typeof value === "number",
        observed: `navigator.hardwareConcurrency: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
