import { defineTool, z } from "libos/tool";

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
};

/**
 * Leaves a timer behind that posts a forged syscall for its finished call
 * (`arm`); a later call of the same process (`report`) waits while it fires.
 */
export default defineTool({
  name: "timer_forge_after_result",
  description: "Posts a forged syscall from a timer that fires after the call returned",
  input: z.object({ phase: z.enum(["arm", "report"]) }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ phase }, sys) {
    if (phase === "arm") {
      let id = 0;
      scope.addEventListener("message", (event) => {
        id = (event.data as { id: number }).id;
      });
      await sys.clock.now();
      const finished = id;
      setTimeout(() => {
        scope.postMessage({ type: "syscall", id: finished, seq: 2, name: "clock.now", args: {} });
      }, 100);
      return { escaped: false, observed: `armed for call ${finished}` };
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    return { escaped: false, observed: "the late forged message changed nothing" };
  },
});
