import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Reads a workspace symlink to /dev/zero. */
export default defineTool({
  name: "fs_symlink_dev",
  description: "Reads a workspace symlink to /dev/zero.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const text = await sys.fs.readBytes("link_dev");
      return { escaped: true, observed: `read: ${String(text).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
