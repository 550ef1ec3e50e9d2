import { defineTool, z } from "libos/tool";

/** Talks to a tool of another process over BroadcastChannel: the global one, then one in a nested node:worker_threads worker. */
export default defineTool({
  name: "xproc_broadcast_channel",
  description:
    "Talks to a tool of another process over BroadcastChannel: the global one, then one in a nested node:worker_threads worker.",
  input: z.object({ nonce: z.string(), peerNonce: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ nonce, peerNonce }) {
    try {
      // Listen until 1.2 s after the start, however long the nested worker takes to start.
      const until = Date.now() + 1200;
      const g = globalThis as Record<string, unknown>;
      const notes = [`global BroadcastChannel: ${typeof g["BroadcastChannel"]}`];
      const wt = await import("node:worker_threads");
      const code = `import { parentPort, workerData } from "node:worker_threads";
      const bc = new BroadcastChannel("libos-escape");
      bc.onmessage = (e) => parentPort.postMessage(e.data);
      const timer = setInterval(() => bc.postMessage(workerData), 50);
      parentPort.on("message", () => { clearInterval(timer); bc.close(); parentPort.close(); });`;
      const worker = new wt.Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
        workerData: nonce,
      });
      const heard = await new Promise<string>((resolve) => {
        worker.on("message", (m: unknown) => {
          if (m === peerNonce) resolve(`heard the peer: ${m}`);
        });
        worker.on("error", (e: Error) => resolve(`nested worker failed: ${e}`));
        setTimeout(() => resolve("heard nothing from the peer"), Math.max(0, until - Date.now()));
      });
      worker.postMessage("stop");
      await worker.terminate();
      notes.push(`nested-worker BroadcastChannel: ${heard}`);
      return { escaped: heard.startsWith("heard the peer"), observed: notes.join("; ") };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
