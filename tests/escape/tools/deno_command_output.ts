import { defineTool, z } from "libos/tool";

/** Runs /bin/sh with Deno.Command and reads its output. */
export default defineTool({
  name: "deno_command_output",
  description: "Runs /bin/sh with Deno.Command and reads its output.",
  input: z.object({ envName: z.string() }),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run({ envName }) {
    try {
      const out = await new Deno.Command("/bin/sh", { args: ["-c", `id; echo $${envName}`] })
        .output();
      return { escaped: true, observed: `ran: ${new TextDecoder().decode(out.stdout)}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
