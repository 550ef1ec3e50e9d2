import { defineTool, z } from "libos/tool";

/** Spins forever without yielding: only killing its host stops it. */
export default defineTool({
  name: "busy_loop",
  description: "Spins forever",
  input: z.object({}),
  output: z.object({ n: z.number() }),
  run() {
    let n = 0;
    for (;;) n = (n + 1) % 1_000_000;
  },
});
