import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Lists another process's object namespace. */
export default defineTool({
  name: "obj_other_namespace",
  description: "Lists another process's object namespace.",
  input: z.object({ otherPid: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ otherPid }, sys) {
    try {
      const objects = await sys.obj.list(`proc/${otherPid}`);
      return { escaped: true, observed: `listed: ${JSON.stringify(objects).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
