import { defineTool, z } from "libos/tool";

/** Fetches http://localhost:<port>/ (a name instead of an address). */
export default defineTool({
  name: "fetch_localhost_name",
  description: "Fetches http://localhost:<port>/ (a name instead of an address).",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const response = await fetch(`http://localhost:${port}/`, {
        signal: AbortSignal.timeout(500),
      });
      return { escaped: true, observed: `fetched: HTTP ${response.status}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
