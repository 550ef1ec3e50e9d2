import { defineTool, z } from "libos/tool";

/** Listens on a TCP port with Deno.listen. */
export default defineTool({
  name: "deno_listen_tcp",
  description: "Listens on a TCP port with Deno.listen.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const addr = listener.addr;
      listener.close();
      return Promise.resolve({ escaped: true, observed: `listening on ${JSON.stringify(addr)}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
