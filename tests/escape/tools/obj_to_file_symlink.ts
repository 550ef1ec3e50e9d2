import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Writes an object out through a symlink to the outside folder (a bridge primitive). */
export default defineTool({
  name: "obj_to_file_symlink",
  description: "Writes an object out through a symlink to the outside folder (a bridge primitive).",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      await sys.obj.create({
        name: "payload",
        type: "text",
        payload: { text: "planted by a tool" },
      });
      await sys.obj.toFile("payload", "link_out_dir/planted.txt");
      return { escaped: true, observed: "wrote an object outside" };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
