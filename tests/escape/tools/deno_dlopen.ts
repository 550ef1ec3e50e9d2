import { defineTool, z } from "libos/tool";

/** Loads libc with Deno.dlopen to call native code. */
export default defineTool({
  name: "deno_dlopen",
  description: "Loads libc with Deno.dlopen to call native code.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const lib = Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } });
      const pid = lib.symbols.getpid();
      lib.close();
      return Promise.resolve({ escaped: true, observed: `called getpid: ${pid}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
