import { defineTool, z } from "libos/tool";

/** Spins forever on microtasks, yielding to promises but never to timers. */
export default defineTool({
  name: "cpu_microtask_loop",
  description: "Spins forever on microtasks, yielding to promises but never to timers.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    for (;;) await Promise.resolve();
  },
});
