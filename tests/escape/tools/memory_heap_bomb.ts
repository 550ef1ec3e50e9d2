import { defineTool, z } from "libos/tool";

/** Allocates objects on the V8 heap without bound. */
export default defineTool({
  name: "memory_heap_bomb",
  description: "Allocates objects on the V8 heap without bound.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    const hoard: unknown[] = [];
    for (;;) for (let i = 0; i < 10_000; i++) hoard.push({ i, s: `item ${i} ${hoard.length}` });
  },
});
