import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Spawns a child that holds fs:** read, which the caller does not hold. */
export default defineTool({
  name: "proc_spawn_escalate",
  description: "Spawns a child that holds fs:** read, which the caller does not hold.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const child = await sys.proc.spawn({
        goal: "read everything",
        capabilities: [{ resource: "fs:**", rights: ["read"] }],
      });
      return { escaped: true, observed: `spawned: ${JSON.stringify(child)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
