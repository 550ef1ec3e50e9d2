import { defineTool, z } from "libos/tool";

/** What the timer saw when it tried its syscall, kept for the report call (same worker). */
let late: string | null = null;

/**
 * Leaves a timer behind that makes a syscall through the captured `sys` after
 * its call has returned (`arm`); a later call (`report`) says what it got.
 */
export default defineTool({
  name: "timer_sys_after_result",
  description: "Makes a syscall from a timer that fires after the call returned",
  input: z.object({ phase: z.enum(["arm", "report"]) }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ phase }, sys) {
    if (phase === "arm") {
      setTimeout(async () => {
        try {
          const text = await sys.fs.readText("inside.txt");
          late = `the late syscall was answered: ${text}`;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          late = `the late syscall failed inside the isolate: ${String(code)}: ${error}`;
        }
      }, 100);
      return { escaped: false, observed: "armed" };
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    return {
      escaped: late?.startsWith("the late syscall was answered") ?? false,
      observed: late ?? "the timer never ran",
    };
  },
});
