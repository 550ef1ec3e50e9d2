import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Overwrites the canary through a workspace symlink to it. */
export default defineTool({
  name: "fs_write_through_symlink",
  description: "Overwrites the canary through a workspace symlink to it.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.fs.write("link_out_file", "overwritten by a tool");
      return { escaped: true, observed: "overwrote the canary" };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
