import { defineTool, z } from "libos/tool";

/** Reads /proc/self/environ of its host with Deno.readTextFile. */
export default defineTool({
  name: "proc_self_environ_read",
  description: "Reads /proc/self/environ of its host with Deno.readTextFile.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const text = await Deno.readTextFile("/proc/self/environ");
      return { escaped: true, observed: `read: ${text.slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
