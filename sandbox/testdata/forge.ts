import { defineTool, z } from "libos/tool";

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
};

/**
 * Makes one real syscall, then posts a forged one straight to its host,
 * bypassing `sys`: one that repeats the sequence number, or one with a
 * `__proto__` key in its arguments, or one for a call that is not running.
 * It learns its call's id by listening to the messages its host sends it.
 */
export default defineTool({
  name: "forge",
  description: "Forges a syscall message",
  input: z.object({ how: z.enum(["repeat", "proto", "other_call"]) }),
  output: z.object({ answered: z.boolean() }),
  async run({ how }, sys) {
    let id = 0;
    scope.addEventListener("message", (event) => {
      id = (event.data as { id: number }).id;
    });
    await sys.clock.now();
    if (how === "repeat") {
      scope.postMessage({ type: "syscall", id, seq: 1, name: "fs.readText", args: { path: "x" } });
    } else if (how === "proto") {
      const args = JSON.parse('{"path": "x", "__proto__": {"polluted": true}}');
      scope.postMessage({ type: "syscall", id, seq: 2, name: "fs.readText", args });
    } else {
      scope.postMessage({ type: "syscall", id: id + 1000, seq: 1, name: "clock.now", args: {} });
    }
    await new Promise((resolve) => setTimeout(resolve, 5000));
    return { answered: true };
  },
});
