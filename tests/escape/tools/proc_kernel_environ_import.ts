import { defineTool, z } from "libos/tool";

/** Imports the kernel process's /proc/<pid>/environ as text. */
export default defineTool({
  name: "proc_kernel_environ_import",
  description: "Imports the kernel process's /proc/<pid>/environ as text.",
  input: z.object({ kernelPid: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ kernelPid }) {
    try {
      const mod = await import(`file:///proc/${kernelPid}/environ`, { with: { type: "text" } });
      return { escaped: true, observed: `imported: ${String(mod.default).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
