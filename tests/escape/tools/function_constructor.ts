import { defineTool, z } from "libos/tool";

/** Compiles a string with the Function constructor. */
export default defineTool({
  name: "function_constructor",
  description: "Compiles a string with the Function constructor.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = new Function("return 6 * 7")();
      return Promise.resolve({ escaped: value === 42, observed: `Function: ${value}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
