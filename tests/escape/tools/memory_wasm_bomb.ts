import { defineTool, z } from "libos/tool";

/** Grows a WebAssembly memory without bound and touches every page. */
export default defineTool({
  name: "memory_wasm_bomb",
  description: "Grows a WebAssembly memory without bound and touches every page.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    if (typeof WebAssembly === "undefined") {
      return Promise.resolve({
        escaped: false,
        observed: "WebAssembly is not available in a tool",
      });
    }
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    for (;;) {
      const before = memory.buffer.byteLength;
      memory.grow(128);
      new Uint8Array(memory.buffer, before).fill(1);
    }
  },
});
