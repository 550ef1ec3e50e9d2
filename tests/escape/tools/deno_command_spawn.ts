import { defineTool, z } from "libos/tool";

/** Spawns a long-lived child process with Deno.Command.spawn. */
export default defineTool({
  name: "deno_command_spawn",
  description: "Spawns a long-lived child process with Deno.Command.spawn.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const child = new Deno.Command("/bin/sleep", { args: ["30"] }).spawn();
      child.kill();
      return Promise.resolve({ escaped: true, observed: `spawned pid ${child.pid}` });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
