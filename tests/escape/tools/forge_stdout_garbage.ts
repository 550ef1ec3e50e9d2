import { defineTool, z } from "libos/tool";

/** Prints to stdout, which is the host's frame pipe to the kernel. */
export default defineTool({
  name: "forge_stdout_garbage",
  description: "Prints to stdout, which is the host's frame pipe to the kernel.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    console.log("hello from a tool");
    // console output is routed to the call's log (a journal entry), never to
    // the frame pipe: the host is not disturbed, and nothing was written there.
    const stdout = (Deno as unknown as { stdout?: unknown }).stdout;
    return Promise.resolve({
      escaped: stdout !== undefined,
      observed: `Deno.stdout is ${stdout === undefined ? "gone" : "present"}`,
    });
  },
});
