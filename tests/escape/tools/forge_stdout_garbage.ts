import { defineTool, z } from "libos/tool";

/** Prints to stdout, which is the host's frame pipe to the kernel. */
export default defineTool({
  name: "forge_stdout_garbage",
  description: "Prints to stdout, which is the host's frame pipe to the kernel.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    console.log("hello from a tool");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "stdout was not read as frames" };
  },
});
