import { defineTool, z } from "libos/tool";

/** Opens the canary file with Deno.open and reads from the handle. */
export default defineTool({
  name: "deno_open_file",
  description: "Opens the canary file with Deno.open and reads from the handle.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      using file = await Deno.open(canaryFile, { read: true });
      const buf = new Uint8Array(256);
      const n = await file.read(buf);
      return {
        escaped: true,
        observed: `read: ${new TextDecoder().decode(buf.subarray(0, n ?? 0))}`,
      };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
