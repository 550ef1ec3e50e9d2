import { defineTool, z } from "libos/tool";

/** Reads the host name with Deno.hostname. */
export default defineTool({
  name: "sys_hostname",
  description: "Reads the host name with Deno.hostname.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      return Promise.resolve({ escaped: true, observed: `hostname: ${Deno.hostname()}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
