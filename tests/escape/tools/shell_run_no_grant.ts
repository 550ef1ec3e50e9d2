import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Runs cat on the canary through sys.shell.run without a shell grant. */
export default defineTool({
  name: "shell_run_no_grant",
  description: "Runs cat on the canary through sys.shell.run without a shell grant.",
  input: z.object({ canaryFile: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ canaryFile }, sys) {
    try {
      const res = await sys.shell.run(["cat", canaryFile]);
      return { escaped: true, observed: `ran: ${res.stdout.slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
