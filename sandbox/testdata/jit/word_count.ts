import { defineTool, z } from "libos/tool";

/** Counts the words of a text file, and says how many it read. */
export default defineTool({
  name: "word_count",
  description: "Count the words of a text file in the working directory",
  input: z.object({ path: z.string().min(1) }),
  output: z.object({ words: z.number().int().nonnegative() }),
  async run({ path }, sys) {
    const text = await sys.fs.readText(path);
    const words = text.split(/\s+/).filter((w) => w !== "").length;
    sys.log(`read ${text.length} characters from ${path}`);
    return { words };
  },
});
