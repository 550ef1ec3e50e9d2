import { defineTool, z } from "libos/tool";

/** Lists the directory outside the workspace with Deno.readDir. */
export default defineTool({
  name: "deno_read_dir",
  description: "Lists the directory outside the workspace with Deno.readDir.",
  input: z.object({ canaryDir: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryDir }) {
    try {
      const names: string[] = [];
      for await (const e of Deno.readDir(canaryDir)) names.push(e.name);
      return { escaped: true, observed: `listed: ${names.join(", ")}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
