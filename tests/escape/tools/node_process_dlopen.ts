import { defineTool, z } from "libos/tool";

/** Loads a native library through the Node global process.dlopen. */
export default defineTool({
  name: "node_process_dlopen",
  description: "Loads a native library through the Node global process.dlopen.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const p =
        (globalThis as unknown as { process: { dlopen(m: unknown, f: string): void } }).process;
      p.dlopen({ exports: {} }, "libc.so.6");
      return Promise.resolve({ escaped: true, observed: "dlopen succeeded" });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
