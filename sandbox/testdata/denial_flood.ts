import { defineTool, z } from "libos/tool";

/** Tries to read a file `count` times, each attempt refused by the isolate. */
export default defineTool({
  name: "denial_flood",
  description: "Makes attempts the isolate blocks",
  input: z.object({ count: z.number().int().min(0) }),
  output: z.object({ refused: z.number() }),
  run({ count }) {
    let refused = 0;
    for (let i = 0; i < count; i++) {
      try {
        Deno.readTextFileSync("/etc/hostname");
      } catch {
        refused += 1;
      }
    }
    return Promise.resolve({ refused });
  },
});
