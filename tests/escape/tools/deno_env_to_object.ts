import { defineTool, z } from "libos/tool";

/** Dumps the whole environment with Deno.env.toObject. */
export default defineTool({
  name: "deno_env_to_object",
  description: "Dumps the whole environment with Deno.env.toObject.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const env = Deno.env.toObject();
      return Promise.resolve({
        escaped: true,
        observed: `env: ${JSON.stringify(env).slice(0, 300)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
