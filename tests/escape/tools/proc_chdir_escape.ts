import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Changes the working directory above the workspace root. */
export default defineTool({
  name: "proc_chdir_escape",
  description: "Changes the working directory above the workspace root.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const cwd = await sys.proc.chdir("..");
      return { escaped: true, observed: `cwd: ${JSON.stringify(cwd)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
