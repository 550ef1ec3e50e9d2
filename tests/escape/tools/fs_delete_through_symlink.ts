import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Deletes the victim file outside through a workspace symlink to its folder. */
export default defineTool({
  name: "fs_delete_through_symlink",
  description: "Deletes the victim file outside through a workspace symlink to its folder.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.fs.delete("link_out_dir/victim.txt");
      return { escaped: true, observed: "deleted victim.txt" };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
