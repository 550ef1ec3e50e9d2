import { defineTool, z } from "libos/tool";

/** Returns a string of the size asked for. */
export default defineTool({
  name: "huge_output",
  description: "Returns a large string",
  input: z.object({ bytes: z.number().int().positive() }),
  output: z.object({ text: z.string() }),
  run({ bytes }) {
    return Promise.resolve({ text: "x".repeat(bytes) });
  },
});
