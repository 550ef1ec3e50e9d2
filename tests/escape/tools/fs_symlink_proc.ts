import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Reads a workspace symlink to /proc/self/environ (the kernel's environment). */
export default defineTool({
  name: "fs_symlink_proc",
  description: "Reads a workspace symlink to /proc/self/environ (the kernel's environment).",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const text = await sys.fs.readText("link_proc");
      return { escaped: true, observed: `read: ${String(text).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
