import { defineTool, z } from "libos/tool";

/** Resolves a host name with Deno.resolveDns. */
export default defineTool({
  name: "deno_resolve_dns",
  description: "Resolves a host name with Deno.resolveDns.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const records = await Deno.resolveDns("localhost", "A");
      return { escaped: true, observed: `resolved: ${records.join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
