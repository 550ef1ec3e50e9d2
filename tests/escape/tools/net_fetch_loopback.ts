import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Fetches the test's loopback listener through sys.net.fetch, under a wildcard net grant. */
export default defineTool({
  name: "net_fetch_loopback",
  description:
    "Fetches the test's loopback listener through sys.net.fetch, under a wildcard net grant.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }, sys) {
    try {
      const res = await sys.net.fetch({ url: `http://127.0.0.1:${port}/` });
      return { escaped: true, observed: `fetched: HTTP ${res.status}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
