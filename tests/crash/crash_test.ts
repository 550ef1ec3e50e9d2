/**
 * Crash tests: the kernel killed with SIGKILL at random points loses nothing
 * it acknowledged and repeats no journaled effect; a process that brings the
 * kernel down on every resume is quarantined.
 */
import assert from "node:assert/strict";
import { runCrashCampaign, runInterruptedWrite, runPoisonCampaign } from "./harness.ts";

const KILLS = Number(Deno.env.get("LIBOS_CRASH_KILLS") ?? "50");

async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "libos-crash-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(`kill -9 at ${KILLS} random points: nothing acknowledged lost, no effect twice, results as uninterrupted`, async () => {
  const result = await inTemp((dir) =>
    runCrashCampaign(dir, {
      kills: KILLS,
      seed: 20261125,
      procs: 6,
      rounds: 1200,
      sleepMs: 25,
      // Kills land anywhere in the work but not inside the first quarter
      // second of a boot, where recovery attempts run one at a time: a storm
      // of kills there cannot be told from a poison pill (see README).
      minDelayMs: 250,
      maxDelayMs: 700,
    })
  );
  assert.deepEqual(result.problems, []);
  assert.ok(result.kills >= KILLS, `only ${result.kills} kills interrupted work`);
});

Deno.test("a process that brings the kernel down on every resume is quarantined after 3 attempts; the others finish", async () => {
  const { exits, kernel } = await inTemp((dir) => runPoisonCampaign(dir));
  // The first run and three resumes die with the poison; the fifth boot quarantines it.
  assert.deepEqual(exits, [70, 70, 70, 70, 0]);
  const poison = kernel.processes.find((p) => p.imageId === "poison");
  assert.equal(poison?.state, "failed");
  assert.match(poison?.reason ?? "", /quarantined/);
  for (const p of kernel.processes.filter((q) => q.imageId !== "poison")) {
    assert.equal(p.state, "exited", `${p.pid}: ${p.reason}`);
  }
});

for (const when of ["--crash-before", "--crash-after"] as const) {
  const phase = when.slice(8);
  Deno.test(`a write in flight when the kernel dies (${phase} the effect) is settled from evidence: done once, never rewritten`, async () => {
    const r = await inTemp((dir) => runInterruptedWrite(dir, [when, "w1/f2.txt"]));
    assert.deepEqual(r.exits, [9, 0]);
    assert.equal(r.file, "round 2\n");
    assert.equal(r.processes[0]?.state, "exited");
    const writes = r.journal.filter((e) => e.kind === "syscall" && e.name === "fs.write");
    const intents = r.journal.filter((e) => e.kind === "syscall.intent" && e.name === "fs.write");
    // Rounds 1 and 2, approved.txt, once.txt twice (the second refused before any intent).
    assert.equal(writes.length, 5);
    assert.equal(new Set(writes.map((w) => w.callId)).size, 5, "each write call completed once");
    // Four effect intents and the approval's wait: the settlement adds none.
    assert.equal(intents.length, 5);
    if (phase === "after") {
      // The file already held the intended bytes: completed without being touched.
      assert.deepEqual(r.settled, ["evidence"]);
      assert.ok(r.stats[0] !== null);
      assert.deepEqual(r.stats[1], r.stats[0], "same inode and mtime after recovery");
    } else {
      assert.deepEqual(r.settled, ["redo"]);
    }
  });
}
