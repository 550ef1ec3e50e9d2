import { defineTool, z } from "libos/tool";

/** Makes a syscall whose arguments exceed the largest frame. */
export default defineTool({
  name: "oversize_syscall_args",
  description: "Makes a syscall whose arguments exceed the largest frame.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    await sys.fs.write("scratch/big.txt", "x".repeat(2_000_000));
    return { escaped: true, observed: "an oversized syscall went through" };
  },
});
