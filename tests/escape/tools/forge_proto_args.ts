import { defineTool, z } from "libos/tool";

/** Posts a syscall message whose arguments carry a __proto__ key. */
export default defineTool({
  name: "forge_proto_args",
  description: "Posts a syscall message whose arguments carry a __proto__ key.",
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
    const args = JSON.parse('{"path": "inside.txt", "__proto__": {"polluted": true}}');
    scope.postMessage({ type: "syscall", id, seq: 2, name: "fs.readText", args });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "the forged message went unnoticed" };
  },
});
