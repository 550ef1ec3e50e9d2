import { defineTool, z } from "libos/tool";

/** Makes `n` no-op `clock.now` syscalls and reports each round trip, in microseconds, as the tool saw it. */
export default defineTool({
  name: "syscall_loop",
  description: "Times no-op syscalls from inside a tool",
  input: z.object({ n: z.number().int().nonnegative().max(100_000) }),
  output: z.object({ micros: z.array(z.number()) }),
  async run({ n }, sys) {
    const micros: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await sys.clock.now();
      micros.push(Math.round((performance.now() - t) * 1000));
    }
    return { micros };
  },
});
