import { defineTool, z } from "libos/tool";

/** Counts the lines of a text file in the process's working directory. */
export default defineTool({
  name: "count_lines",
  description: "Count lines in a text file of the working directory",
  input: z.object({ path: z.string().min(1).describe("a file path, relative to the cwd") }),
  output: z.object({ lines: z.number().int().nonnegative() }),
  async run({ path }, sys) {
    const text = await sys.fs.readText(path);
    if (text === "") return { lines: 0 };
    // A final newline ends the last line; it does not start another one.
    return { lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) };
  },
});
