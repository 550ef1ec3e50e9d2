import { defineTool, z } from "libos/tool";

/** Recovers Cache Storage after the sandbox deleted `caches` (through the webidl brand in Deno[Deno.internal]), leaves a message for a tool of another process and looks for the peer's. */
export default defineTool({
  name: "xproc_caches_recovered",
  description:
    "Recovers Cache Storage after the sandbox deleted `caches` (through the webidl brand in Deno[Deno.internal]), leaves a message for a tool of another process and looks for the peer's.",
  input: z.object({ nonce: z.string(), peerNonce: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ nonce, peerNonce }) {
    try {
      // Look for the peer's message until 1 s after the start.
      const until = Date.now() + 1000;
      const internal = (Deno as unknown as Record<
        symbol,
        { webidl: { createBranded(c: unknown): CacheStorage } }
      >)[
        (Deno as unknown as { internal: symbol }).internal
      ]!;
      const storage = internal.webidl.createBranded(
        (globalThis as unknown as { CacheStorage: unknown }).CacheStorage,
      );
      const mine = await storage.open(`libos-escape-${nonce}`);
      await mine.put(new Request("http://libos.invalid/m"), new Response(nonce));
      try {
        while (Date.now() < until) {
          if (await storage.has(`libos-escape-${peerNonce}`)) {
            const theirs = await storage.open(`libos-escape-${peerNonce}`);
            const text = await (await theirs.match(new Request("http://libos.invalid/m")))?.text();
            return { escaped: text === peerNonce, observed: `read the peer's message: ${text}` };
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return { escaped: false, observed: "stored a message; the peer's never appeared" };
      } finally {
        // Storage that outlives the host is on the host's disk: leave nothing behind.
        await new Promise((resolve) => setTimeout(resolve, 200));
        await storage.delete(`libos-escape-${nonce}`);
      }
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
