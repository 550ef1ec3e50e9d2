import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Kills another process with a signal it holds no capability for. */
export default defineTool({
  name: "proc_signal_other",
  description: "Kills another process with a signal it holds no capability for.",
  input: z.object({ otherPid: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ otherPid }, sys) {
    try {
      await sys.proc.signal(otherPid, "kill");
      return { escaped: true, observed: `killed ${otherPid}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
