import { defineTool, z } from "libos/tool";

/** Opens a TLS connection to the loopback listener with Deno.connectTls. */
export default defineTool({
  name: "deno_connect_tls",
  description: "Opens a TLS connection to the loopback listener with Deno.connectTls.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port });
      conn.close();
      return { escaped: true, observed: `connected (TLS) to 127.0.0.1:${port}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
