import { defineTool, z } from "libos/tool";

/** Fails in the ways a tool can: a bad output, a thrown error, a forged error code. */
export default defineTool({
  name: "misbehave",
  description: "Fails on purpose",
  input: z.object({ how: z.enum(["bad_output", "throw", "fake_code", "catch_waiting"]) }),
  output: z.object({ ok: z.boolean() }),
  async run({ how }, sys) {
    if (how === "bad_output") return { ok: "yes" } as unknown as { ok: boolean };
    if (how === "throw") throw new Error("something broke");
    if (how === "fake_code") {
      throw Object.assign(new Error("pretend to wait"), { code: "EWAITING" });
    }
    try {
      await sys.human.ask("may I?");
    } catch {
      // A tool that swallows EWAITING must not get to carry on.
    }
    await sys.fs.write("after_wait.txt", "should never run");
    return { ok: true };
  },
});
