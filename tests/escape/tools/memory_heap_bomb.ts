import { defineTool, z } from "libos/tool";

/** Allocates objects on the V8 heap without bound. */
export default defineTool({
  name: "memory_heap_bomb",
  description: "Allocates objects on the V8 heap without bound.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    const hoard: number[][] = [];
    // 8 MiB of small integers per array, all on the V8 heap.
    for (;;) hoard.push(new Array<number>(1 << 20).fill(hoard.length));
  },
});
