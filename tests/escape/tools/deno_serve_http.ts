import { defineTool, z } from "libos/tool";

/** Starts an HTTP server with Deno.serve. */
export default defineTool({
  name: "deno_serve_http",
  description: "Starts an HTTP server with Deno.serve.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        () => new Response("served by a tool"),
      );
      await server.shutdown();
      return { escaped: true, observed: `served on ${JSON.stringify(server.addr)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
