import { defineTool, z } from "libos/tool";

/** Schedules a string of code with setTimeout. */
export default defineTool({
  name: "set_timeout_string",
  description: "Schedules a string of code with setTimeout.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      const g = globalThis as Record<string, unknown>;
      (setTimeout as unknown as (code: string, ms: number) => number)(
        "globalThis.__libos_ran = 42",
        0,
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
      return {
        escaped: g["__libos_ran"] === 42,
        observed: `setTimeout(string): ${g["__libos_ran"]}`,
      };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
