import { defineTool, z } from "libos/tool";

/** Calls every `sys` method once, in the order of the syscall table, and returns what came back. */
export default defineTool({
  name: "all_syscalls",
  description: "Calls every syscall once",
  input: z.object({}),
  output: z.object({ results: z.array(z.unknown()) }),
  async run(_input, sys) {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const results: unknown[] = [
      await sys.fs.readText("a.txt"),
      await sys.fs.readBytes("b.bin"),
      await sys.fs.write("c.bin", bytes),
      await sys.fs.list("."),
      await sys.fs.stat("a.txt"),
      await sys.fs.delete("a.txt"),
      await sys.fs.mkdir("d"),
      await sys.obj.create({ name: "n", type: "note", payload: { text: "hi" } }),
      await sys.obj.read("n"),
      await sys.obj.write("n", { text: "bye" }),
      await sys.obj.list(),
      await sys.obj.link("n", "cites", "m"),
      await sys.obj.delete("n"),
      await sys.obj.fromFile("a.txt", "a", "text"),
      await sys.obj.toFile("a", "e.txt"),
      await sys.human.ask("why?"),
      await sys.human.notify("done"),
      await sys.human.requestPermission("fs:x/**", ["read"], "to read x"),
      await sys.proc.spawn({ goal: "g" }),
      await sys.proc.fork({ goal: "f", objects: ["n"] }),
      await sys.proc.wait("p_2"),
      await sys.proc.signal("p_2", "pause"),
      await sys.proc.exit({ ok: true }),
      await sys.proc.cwd(),
      await sys.proc.chdir("d"),
      await sys.clock.now(),
      await sys.clock.sleep(5),
      await sys.mbox.send({ to: "p_2", type: "note", body: { text: "hi" } }),
      await sys.mbox.receive({ timeoutMs: 0 }),
    ];
    sys.log("made", results.length, "syscalls");
    return { results };
  },
});
