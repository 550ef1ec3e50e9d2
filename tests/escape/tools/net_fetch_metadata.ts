import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Fetches the cloud metadata address (169.254.169.254) through sys.net.fetch. */
export default defineTool({
  name: "net_fetch_metadata",
  description: "Fetches the cloud metadata address (169.254.169.254) through sys.net.fetch.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const res = await sys.net.fetch({ url: "http://169.254.169.254/latest/meta-data/" });
      return { escaped: true, observed: `fetched: HTTP ${res.status}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
