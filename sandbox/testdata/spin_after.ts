import { defineTool, z } from "libos/tool";

/** Returns at once, leaving behind a timer that spins forever (`spin: true`). */
export default defineTool({
  name: "spin_after",
  description: "Leaves a spinning timer behind its result",
  input: z.object({ spin: z.boolean() }),
  output: z.object({ armed: z.boolean() }),
  run({ spin }) {
    if (spin) {
      setTimeout(() => {
        let n = 0;
        for (;;) n = (n + 1) % 1_000_000;
      }, 10);
    }
    return Promise.resolve({ armed: spin });
  },
});
