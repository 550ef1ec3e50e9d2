import { defineTool, z } from "libos/tool";

/**
 * Reads race/d/secret.txt through sys.fs in a loop while race/d is swapped
 * between a real folder inside the workspace and a symlink to the outside
 * folder (the known-gap test swaps it between the check and the read).
 */
export default defineTool({
  name: "symlink_race_dir",
  description: "Reads through sys.fs in a loop while a symlink is swapped",
  input: z.object({
    path: z.string(),
    insideText: z.string(),
    iterations: z.number().int().positive().max(1000),
  }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ path, insideText, iterations }, sys) {
    const counts: Record<string, number> = { inside: 0, outside: 0 };
    let sample = "";
    for (let i = 0; i < iterations; i++) {
      try {
        const text = await sys.fs.readText(path);
        if (text === insideText) counts["inside"]! += 1;
        else {
          counts["outside"]! += 1;
          sample = text.slice(0, 100);
        }
      } catch (error) {
        const code = String((error as { code?: unknown }).code);
        counts[code] = (counts[code] ?? 0) + 1;
      }
    }
    return { escaped: counts["outside"]! > 0, observed: JSON.stringify({ ...counts, sample }) };
  },
});
