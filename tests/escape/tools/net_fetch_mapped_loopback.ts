import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Fetches the loopback listener through sys.net.fetch, spelled as an IPv4-mapped IPv6 address. */
export default defineTool({
  name: "net_fetch_mapped_loopback",
  description:
    "Fetches the loopback listener through sys.net.fetch, spelled as an IPv4-mapped IPv6 address.",
  input: z.object({ port: z.number() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ port }, sys) {
    try {
      const res = await sys.net.fetch({ url: `http://[::ffff:7f00:1]:${port}/` });
      return { escaped: true, observed: `fetched: HTTP ${res.status}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
