import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Copies the canary into an object through a symlink (a bridge primitive instead of fs). */
export default defineTool({
  name: "obj_from_file_symlink",
  description:
    "Copies the canary into an object through a symlink (a bridge primitive instead of fs).",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const record = await sys.obj.fromFile("link_out_file", "grabbed", "text");
      return { escaped: true, observed: `object: ${JSON.stringify(record).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
