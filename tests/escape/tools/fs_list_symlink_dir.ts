import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Lists the outside folder through a workspace symlink to it. */
export default defineTool({
  name: "fs_list_symlink_dir",
  description: "Lists the outside folder through a workspace symlink to it.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const entries = await sys.fs.list("link_out_dir");
      return { escaped: true, observed: `listed: ${JSON.stringify(entries).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
