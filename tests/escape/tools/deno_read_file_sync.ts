import { defineTool, z } from "libos/tool";

/** Reads the canary file with the synchronous Deno.readFileSync. */
export default defineTool({
  name: "deno_read_file_sync",
  description: "Reads the canary file with the synchronous Deno.readFileSync.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run({ canaryFile }) {
    try {
      const bytes = Deno.readFileSync(canaryFile);
      return Promise.resolve({
        escaped: true,
        observed: `read: ${new TextDecoder().decode(bytes).slice(0, 200)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
