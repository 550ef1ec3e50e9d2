import { defineTool, z } from "libos/tool";

/** Returns an output larger than the output limit (but within the frame limit). */
export default defineTool({
  name: "oversize_output",
  description: "Returns an output larger than the output limit (but within the frame limit).",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    return Promise.resolve({ escaped: false, observed: "x".repeat(200_000) });
  },
});
