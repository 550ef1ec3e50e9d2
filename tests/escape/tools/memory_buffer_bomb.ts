import { defineTool, z } from "libos/tool";

/** Allocates array buffers (outside the V8 heap) without bound. */
export default defineTool({
  name: "memory_buffer_bomb",
  description: "Allocates array buffers (outside the V8 heap) without bound.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    const hoard: Uint8Array[] = [];
    for (;;) hoard.push(new Uint8Array(8 << 20).fill(1));
  },
});
