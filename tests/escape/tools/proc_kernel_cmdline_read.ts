import { defineTool, z } from "libos/tool";

/** Reads the kernel process's /proc/<pid>/cmdline with Deno.readTextFile. */
export default defineTool({
  name: "proc_kernel_cmdline_read",
  description: "Reads the kernel process's /proc/<pid>/cmdline with Deno.readTextFile.",
  input: z.object({ kernelPid: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ kernelPid }) {
    try {
      const text = await Deno.readTextFile(`/proc/${kernelPid}/cmdline`);
      return { escaped: true, observed: `read: ${text.slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
