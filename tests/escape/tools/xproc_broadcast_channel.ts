import { defineTool, z } from "libos/tool";

/** Talks to a tool of another process over the global BroadcastChannel. */
export default defineTool({
  name: "xproc_broadcast_channel",
  description: "Talks to a tool of another process over the global BroadcastChannel.",
  input: z.object({ nonce: z.string(), peerNonce: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ nonce, peerNonce }) {
    try {
      const g = globalThis as Record<string, unknown>;
      const Channel = g["BroadcastChannel"] as typeof BroadcastChannel | undefined;
      if (typeof Channel !== "function") {
        return { escaped: false, observed: `global BroadcastChannel: ${typeof Channel}` };
      }
      // Post and listen for 1.2 s: the peer process runs the same tool meanwhile.
      const bc = new Channel("libos-escape");
      const heard = await new Promise<string>((resolve) => {
        bc.onmessage = (e) => {
          if (e.data === peerNonce) resolve(`heard the peer: ${e.data}`);
        };
        const timer = setInterval(() => bc.postMessage(nonce), 50);
        setTimeout(() => {
          clearInterval(timer);
          resolve("heard nothing from the peer");
        }, 1200);
      });
      bc.close();
      return { escaped: heard.startsWith("heard the peer"), observed: heard };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
