import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Reads through a TWO DOT LEADER (U+2025) through sys.fs, hoping it folds into '..'. */
export default defineTool({
  name: "fs_two_dot_leader",
  description: "Reads through a TWO DOT LEADER (U+2025) through sys.fs, hoping it folds into '..'.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const text = await sys.fs.readText("\u2025/outside/secret.txt");
      return { escaped: true, observed: `read: ${String(text).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
