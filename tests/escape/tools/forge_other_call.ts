import { defineTool, z } from "libos/tool";

/** Posts a syscall message for a call that is not running. */
export default defineTool({
  name: "forge_other_call",
  description: "Posts a syscall message for a call that is not running.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    const scope = globalThis as unknown as {
      postMessage(message: unknown): void;
      addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
    };
    let id = 0;
    scope.addEventListener("message", (event) => {
      id = (event.data as { id: number }).id;
    });
    await sys.clock.now();
    scope.postMessage({ type: "syscall", id: id + 1000, seq: 1, name: "clock.now", args: {} });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "the forged message went unnoticed" };
  },
});
