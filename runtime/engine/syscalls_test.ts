import assert from "node:assert/strict";
import { Batch } from "./batch.ts";
import { FakeClock } from "../substrate/clock.ts";
import { Kernel } from "../kernel.ts";
import { MemoryFilesystem } from "../substrate/memory_fs.ts";
import { Syscalls } from "./syscalls.ts";
import type { JournalEntry } from "../types.ts";

async function setup() {
  const clock = new FakeClock(1000);
  const kernel = await Kernel.create({
    clock,
    filesystem: new MemoryFilesystem(),
    autostart: false,
  });
  const p = await kernel.spawn({
    image: {
      id: "t",
      name: "t",
      version: "1",
      model: { provider: "scripted", steps: [] },
      capabilities: [{ resource: "fs:**", rights: ["read", "write"] }],
    },
    goal: "g",
  });
  const replay = new Map<number, JournalEntry>();
  const batch = new Batch();
  const open = () =>
    new Syscalls(kernel._core, kernel._core.procs.get(p.pid), {
      batch,
      callId: "c0.0",
      turn: 0,
      replay,
    });
  return { kernel, clock, open, commit: () => kernel._core.records.commit(batch) };
}

Deno.test("a re-run call answers completed syscalls from the journal, not by acting again", async () => {
  const { kernel, clock, open, commit } = await setup();
  await using _ = kernel;
  const attempt = open();
  const first = await attempt.now();
  await attempt.write("a.txt", "one");
  clock.advance(5000);
  const again = open();
  assert.deepEqual(await again.now(), first, "the journaled time, not the clock's");
  assert.deepEqual(await again.write("a.txt", "one"), { path: "a.txt", bytes: 3 });
  await commit();
  assert.equal(
    (await kernel.audit({ action: "fs.write" })).length,
    1,
    "the write was performed and audited once",
  );
});

Deno.test("a re-run call that makes a different syscall fails with ENONDET", async () => {
  const { kernel, open } = await setup();
  await using _ = kernel;
  const attempt = open();
  await attempt.now();
  await attempt.write("b.txt", "x");
  await assert.rejects(open().readText("a.txt"), { code: "ENONDET" });
  const s = open();
  await s.now();
  await assert.rejects(s.write("b.txt", "other content"), { code: "ENONDET" });
});

Deno.test("a journaled failure replays as the same error", async () => {
  const { kernel, open } = await setup();
  await using _ = kernel;
  await assert.rejects(open().readText("missing.txt"), { code: "ENOENT" });
  await kernel.fs.writeBytes("missing.txt", new TextEncoder().encode("now here"));
  await assert.rejects(open().readText("missing.txt"), { code: "ENOENT" });
});
