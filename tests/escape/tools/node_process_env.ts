import { defineTool, z } from "libos/tool";

/** Reads the canary environment variable through the Node global process.env. */
export default defineTool({
  name: "node_process_env",
  description: "Reads the canary environment variable through the Node global process.env.",
  input: z.object({ envName: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run({ envName }) {
    try {
      const env =
        (globalThis as unknown as { process: { env: Record<string, string | undefined> } })
          .process.env;
      const value = env[envName];
      return Promise.resolve({ escaped: true, observed: `process.env: ${value}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
