import { defineTool, z } from "libos/tool";

/** Evaluates a string with eval. */
export default defineTool({
  name: "eval_string",
  description: "Evaluates a string with eval.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      // deno-lint-ignore no-eval
      const value = eval("6 * 7");
      return Promise.resolve({ escaped: value === 42, observed: `eval: ${value}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
