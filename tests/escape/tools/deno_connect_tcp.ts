import { defineTool, z } from "libos/tool";

/** Opens a raw TCP connection to the test's loopback listener with Deno.connect. */
export default defineTool({
  name: "deno_connect_tcp",
  description: "Opens a raw TCP connection to the test's loopback listener with Deno.connect.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { escaped: true, observed: `connected to 127.0.0.1:${port}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
