import { defineTool, z } from "libos/tool";

/**
 * Leaves a timer behind that spins forever once the call has returned
 * (`arm`); a later call of the same tool (`report`) lands on the spinning worker.
 */
export default defineTool({
  name: "timer_spin_after_result",
  description: "Spins in a timer that fires after the call returned",
  input: z.object({ phase: z.enum(["arm", "report"]) }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run({ phase }) {
    if (phase === "arm") {
      setTimeout(() => {
        let n = 0;
        for (;;) n = (n + 1) % 1_000_000;
      }, 50);
      return Promise.resolve({ escaped: false, observed: "armed" });
    }
    return Promise.resolve({ escaped: false, observed: "the report ran: nothing was spinning" });
  },
});
