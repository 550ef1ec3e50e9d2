import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Changes into a symlinked outside folder, then reads a relative path from there. */
export default defineTool({
  name: "proc_chdir_symlink",
  description: "Changes into a symlinked outside folder, then reads a relative path from there.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.proc.chdir("link_out_dir");
      try {
        const text = await sys.fs.readText("secret.txt");
        return { escaped: true, observed: `read: ${text.slice(0, 200)}` };
      } finally {
        await sys.proc.chdir("..");
      }
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
