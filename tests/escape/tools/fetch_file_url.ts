import { defineTool, z } from "libos/tool";

/** Reads the canary file with fetch() of a file: URL. */
export default defineTool({
  name: "fetch_file_url",
  description: "Reads the canary file with fetch() of a file: URL.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }) {
    try {
      const response = await fetch(new URL(`file://${canaryFile}`));
      return { escaped: true, observed: `fetched: ${(await response.text()).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
