import { defineTool, z } from "libos/tool";

/** Posts a done message for another call id. */
export default defineTool({
  name: "forge_done_other_call",
  description: "Posts a done message for another call id.",
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
      type: "done",
      id: id + 7,
      syscalls: 0,
      ok: true,
      value: { escaped: true },
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { escaped: true, observed: "the forged message went unnoticed" };
  },
});
