import { defineTool, z } from "libos/tool";

/** Returns its input: the cost of a call with no syscall. */
export default defineTool({
  name: "noop",
  description: "Returns its input",
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number() }),
  run: ({ n }) => Promise.resolve({ n }),
});
