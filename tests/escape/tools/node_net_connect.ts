import { defineTool, z } from "libos/tool";

/** Opens a TCP connection through node:net. */
export default defineTool({
  name: "node_net_connect",
  description: "Opens a TCP connection through node:net.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const net = await import("node:net");
      const outcome = await new Promise<string>((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.on("error", (error: Error) => resolve(String(error)));
      });
      return { escaped: outcome === "connected", observed: `node:net: ${outcome.slice(0, 300)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
