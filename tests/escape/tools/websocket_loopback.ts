import { defineTool, z } from "libos/tool";

/** Opens a WebSocket to the loopback listener. */
export default defineTool({
  name: "websocket_loopback",
  description: "Opens a WebSocket to the loopback listener.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const opened = await new Promise<string>((resolve) => {
        ws.onopen = () => resolve("open");
        ws.onerror = () => resolve("error");
        setTimeout(() => resolve("no answer"), 500);
      });
      ws.close();
      return { escaped: opened === "open", observed: `WebSocket: ${opened}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
