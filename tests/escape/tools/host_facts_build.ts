import { defineTool, z } from "libos/tool";

/** Reads the host's platform (target, arch, os) with Deno.build. */
export default defineTool({
  name: "host_facts_build",
  description: "Reads the host's platform (target, arch, os) with Deno.build.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = (Deno as unknown as { build?: { target?: unknown } }).build?.target;
      return Promise.resolve({
        escaped: typeof value === "string",
        observed: `Deno.build.target: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
