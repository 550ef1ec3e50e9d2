import { defineTool, z } from "libos/tool";

/** Spins forever without yielding. */
export default defineTool({
  name: "cpu_busy_loop",
  description: "Spins forever without yielding.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    let n = 0;
    for (;;) n = (n + 1) % 1_000_000;
  },
});
