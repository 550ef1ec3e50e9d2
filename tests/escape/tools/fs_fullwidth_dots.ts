import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Reads fullwidth dots (U+FF0E U+FF0E) through sys.fs, hoping something folds them into '..'. */
export default defineTool({
  name: "fs_fullwidth_dots",
  description:
    "Reads fullwidth dots (U+FF0E U+FF0E) through sys.fs, hoping something folds them into '..'.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const text = await sys.fs.readText("\uff0e\uff0e/outside/secret.txt");
      return { escaped: true, observed: `read: ${String(text).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
