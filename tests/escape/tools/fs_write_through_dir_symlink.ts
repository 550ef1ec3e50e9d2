import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Plants a file outside through a workspace symlink to the outside folder. */
export default defineTool({
  name: "fs_write_through_dir_symlink",
  description: "Plants a file outside through a workspace symlink to the outside folder.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.fs.write("link_out_dir/planted.txt", "planted by a tool");
      return { escaped: true, observed: "planted a file outside" };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
