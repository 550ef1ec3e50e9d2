import { defineTool, z } from "libos/tool";

/** Spins without yielding: only its deadline (killing its host) ends it. */
export default defineTool({
  name: "spin",
  description: "Spin forever",
  input: z.object({}),
  output: z.object({ n: z.number() }),
  run() {
    let n = 0;
    for (;;) n = (n + 1) % 1_000_000;
  },
});
