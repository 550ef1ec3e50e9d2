import { defineTool, z } from "libos/tool";

/** Fetches http://127.0.0.1:<port>/ from the test's listener. */
export default defineTool({
  name: "fetch_loopback",
  description: "Fetches http://127.0.0.1:<port>/ from the test's listener.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        signal: AbortSignal.timeout(500),
      });
      return { escaped: true, observed: `fetched: HTTP ${response.status}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
