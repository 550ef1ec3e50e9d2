import { defineTool, z } from "libos/tool";

/** Evaluates a string through Deno's internal core.evalContext, reached through Deno[Deno.internal]. */
export default defineTool({
  name: "core_eval_context",
  description:
    "Evaluates a string through Deno's internal core.evalContext, reached through Deno[Deno.internal].",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const d = Deno as unknown as Record<
        symbol,
        { core?: { evalContext?(code: string, url: string): [unknown, unknown] } }
      >;
      const internal = (Deno as unknown as { internal: symbol }).internal;
      const [value] = d[internal]!.core!.evalContext!("6 * 7", "file:///libos-escape.js");
      return Promise.resolve({ escaped: value === 42, observed: `evalContext: ${value}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
