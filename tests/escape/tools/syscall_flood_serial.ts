import { defineTool, z } from "libos/tool";

/** Makes syscalls one after another without end. */
export default defineTool({
  name: "syscall_flood_serial",
  description: "Makes syscalls one after another without end.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    for (let n = 0;; n++) await sys.clock.now();
  },
});
