import { defineTool, z } from "libos/tool";

/** Compiles and runs a WebAssembly module from bytes. */
export default defineTool({
  name: "webassembly_compile",
  description: "Compiles and runs a WebAssembly module from bytes.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      // (module (func (export "f") (result i32) i32.const 42))
      const bytes = new Uint8Array([
        0x00,
        0x61,
        0x73,
        0x6d,
        0x01,
        0x00,
        0x00,
        0x00,
        0x01,
        0x05,
        0x01,
        0x60,
        0x00,
        0x01,
        0x7f,
        0x03,
        0x02,
        0x01,
        0x00,
        0x07,
        0x05,
        0x01,
        0x01,
        0x66,
        0x00,
        0x00,
        0x0a,
        0x06,
        0x01,
        0x04,
        0x00,
        0x41,
        0x2a,
        0x0b,
      ]);
      const { instance } = await WebAssembly.instantiate(bytes);
      const value = (instance.exports["f"] as () => number)();
      return { escaped: value === 42, observed: `WebAssembly ran: ${value}` };
    } catch (error) {
      return { escaped: false, observed: String(error).slice(0, 300) };
    }
  },
});
