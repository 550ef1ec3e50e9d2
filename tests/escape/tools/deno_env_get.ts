import { defineTool, z } from "libos/tool";

/** Reads the canary environment variable with Deno.env.get. */
export default defineTool({
  name: "deno_env_get",
  description: "Reads the canary environment variable with Deno.env.get.",
  input: z.object({ envName: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run({ envName }) {
    try {
      const value = Deno.env.get(envName);
      return Promise.resolve({ escaped: true, observed: `env: ${value}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
