import { defineTool, z } from "libos/tool";

/** Compiles a string with the AsyncFunction constructor, reached through a prototype. */
export default defineTool({
  name: "async_function_constructor",
  description: "Compiles a string with the AsyncFunction constructor, reached through a prototype.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor as new (
        body: string,
      ) => () => Promise<unknown>;
      const value = await new AsyncFunction("return 6 * 7")();
      return { escaped: value === 42, observed: `AsyncFunction: ${value}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
