import { defineTool, z } from "libos/tool";

/** Posts a syscall message straight to its host that repeats sequence number 1. */
export default defineTool({
  name: "forge_repeat_seq",
  description: "Posts a syscall message straight to its host that repeats sequence number 1.",
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
    scope.postMessage({
      type: "syscall",
      id,
      seq: 1,
      name: "fs.readText",
      args: { path: "inside.txt" },
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "the forged message went unnoticed" };
  },
});
