import { defineTool, z } from "libos/tool";

/** Returns an output larger than the largest frame the kernel accepts. */
export default defineTool({
  name: "oversize_frame",
  description: "Returns an output larger than the largest frame the kernel accepts.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    return Promise.resolve({ escaped: false, observed: "x".repeat(2_000_000) });
  },
});
