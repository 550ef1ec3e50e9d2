import { defineTool, z } from "libos/tool";

/** Allocates without bound: on the V8 heap, or in array buffers outside it. */
export default defineTool({
  name: "memory_bomb",
  description: "Allocates memory until something stops it",
  input: z.object({ kind: z.enum(["heap", "buffers"]) }),
  output: z.object({ n: z.number() }),
  run({ kind }) {
    const hoard: unknown[] = [];
    for (;;) {
      if (kind === "heap") {
        for (let i = 0; i < 10_000; i++) hoard.push({ i, s: `item ${i} ${hoard.length}` });
      } else {
        hoard.push(new Uint8Array(8 << 20).fill(1));
      }
    }
  },
});
