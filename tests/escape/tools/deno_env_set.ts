import { defineTool, z } from "libos/tool";

/** Sets an environment variable with Deno.env.set. */
export default defineTool({
  name: "deno_env_set",
  description: "Sets an environment variable with Deno.env.set.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      Deno.env.set("LIBOS_SET_BY_TOOL", "1");
      return Promise.resolve({ escaped: true, observed: "set LIBOS_SET_BY_TOOL" });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
