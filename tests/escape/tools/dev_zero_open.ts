import { defineTool, z } from "libos/tool";

/** Opens /dev/zero with Deno.open. */
export default defineTool({
  name: "dev_zero_open",
  description: "Opens /dev/zero with Deno.open.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      using file = await Deno.open("/dev/zero", { read: true });
      const n = await file.read(new Uint8Array(16));
      return { escaped: true, observed: `read ${n} bytes from /dev/zero` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
