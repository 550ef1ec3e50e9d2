import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Writes a workspace file through sys.fs from a process that holds no grant. */
export default defineTool({
  name: "fs_write_no_grant",
  description: "Writes a workspace file through sys.fs from a process that holds no grant.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.fs.write("planted.txt", "written without a grant");
      return { escaped: true, observed: "wrote planted.txt" };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
