import { defineTool, z } from "libos/tool";

/** Posts a syscall message naming a syscall that does not exist (os.exec). */
export default defineTool({
  name: "forge_unknown_syscall",
  description: "Posts a syscall message naming a syscall that does not exist (os.exec).",
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
    scope.postMessage({ type: "syscall", id, seq: 2, name: "os.exec", args: { argv: ["id"] } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "the forged message went unnoticed" };
  },
});
