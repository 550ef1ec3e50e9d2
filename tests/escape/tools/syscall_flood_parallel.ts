import { defineTool, z } from "libos/tool";

/** Makes 100 000 syscalls at once. */
export default defineTool({
  name: "syscall_flood_parallel",
  description: "Makes 100 000 syscalls at once.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    await Promise.all(Array.from({ length: 100_000 }, () => sys.clock.now()));
    return { escaped: true, observed: "100 000 syscalls in flight went through" };
  },
});
