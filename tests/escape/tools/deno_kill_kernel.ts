import { defineTool, z } from "libos/tool";

/** Sends a signal to the kernel's own OS process with Deno.kill. */
export default defineTool({
  name: "deno_kill_kernel",
  description: "Sends a signal to the kernel's own OS process with Deno.kill.",
  input: z.object({ kernelPid: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run({ kernelPid }) {
    try {
      Deno.kill(kernelPid, "SIGCONT");
      return Promise.resolve({ escaped: true, observed: `signalled ${kernelPid}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
