import { defineTool, z } from "libos/tool";

/** Reads the process id of the host's parent (the kernel, without bubblewrap) with Deno.ppid. */
export default defineTool({
  name: "host_facts_ppid",
  description:
    "Reads the process id of the host's parent (the kernel, without bubblewrap) with Deno.ppid.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = Deno.ppid;
      return Promise.resolve({
        escaped: typeof value === "number",
        observed: `Deno.ppid: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
