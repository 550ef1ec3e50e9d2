import { defineTool, z } from "libos/tool";

/** One host→kernel frame as `frame.ts` encodes it: u32 size, u32 JSON size, JSON. */
function frame(message: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const out = new Uint8Array(8 + json.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + json.length);
  view.setUint32(4, json.length);
  out.set(json, 8);
  return out;
}

/** Writes a well-formed frame to stdout that claims to come from another process's host. */
export default defineTool({
  name: "forge_stdout_other_pid",
  description:
    "Writes a well-formed frame to stdout that claims to come from another process's host.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input) {
    try {
      Deno.stdout.writeSync(frame({ type: "log", pid: "p_999", id: 1, line: "from another pid" }));
    } catch (error) {
      return { escaped: false, observed: `stdout is closed to tools: ${String(error)}` };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "a frame for another pid went unnoticed" };
  },
});
