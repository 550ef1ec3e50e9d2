import { defineTool, z } from "libos/tool";

/** Leaves a message for a tool of another process in the global Cache Storage (caches). */
export default defineTool({
  name: "xproc_caches_global",
  description:
    "Leaves a message for a tool of another process in the global Cache Storage (caches).",
  input: z.object({ nonce: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ nonce }) {
    try {
      const cache = await caches.open(`libos-escape-${nonce}`);
      await cache.put(new Request("http://libos.invalid/m"), new Response(nonce));
      return { escaped: true, observed: "stored a message in caches" };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
