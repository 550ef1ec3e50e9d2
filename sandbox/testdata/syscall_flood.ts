import { defineTool, z } from "libos/tool";

/** Makes syscalls without end, one after another or all at once. */
export default defineTool({
  name: "syscall_flood",
  description: "Floods the kernel with syscalls",
  input: z.object({ parallel: z.boolean() }),
  output: z.object({ n: z.number() }),
  async run({ parallel }, sys) {
    if (parallel) {
      await Promise.all(Array.from({ length: 100_000 }, () => sys.clock.now()));
      return { n: 100_000 };
    }
    let n = 0;
    for (;;) {
      await sys.clock.now();
      n += 1;
    }
  },
});
