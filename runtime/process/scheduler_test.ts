import assert from "node:assert/strict";
import { Scheduler } from "./scheduler.ts";

Deno.test("Scheduler serves the queue round-robin: a re-queued process goes to the back", async () => {
  const ran: string[] = [];
  const left = new Map([["a", 3], ["b", 3], ["c", 3]]);
  const s: Scheduler = new Scheduler({
    concurrency: 1,
    run: (pid) => {
      ran.push(pid);
      const n = left.get(pid)! - 1;
      left.set(pid, n);
      if (n > 0) queueMicrotask(() => s.enqueue(pid));
      return Promise.resolve();
    },
    onError: (_pid, e) => {
      throw e;
    },
  });
  for (const pid of ["a", "b", "c"]) s.enqueue(pid);
  s.start();
  for (let i = 0; i < 100 && ran.length < 9; i++) await s.idle();
  assert.deepEqual(ran, ["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
});

Deno.test("Scheduler never runs more than `concurrency` quanta, nor one process twice at once", async () => {
  let active = 0;
  let peak = 0;
  const release: (() => void)[] = [];
  const s = new Scheduler({
    concurrency: 2,
    run: async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((r) => release.push(r));
      active--;
    },
    onError: () => {},
  });
  s.start();
  for (const pid of ["a", "b", "c", "d", "c"]) s.enqueue(pid);
  assert.equal(s.running, 2);
  assert.equal(s.queued, 2, "a duplicate enqueue of a queued process is ignored");
  for (let i = 0; i < 10 && release.length > 0; i++) {
    release.shift()!();
    await new Promise((r) => setTimeout(r, 0));
  }
  await s.idle();
  assert.equal(peak, 2);
  assert.equal(s.quanta, 4);
  await s.stop();
});

Deno.test("Scheduler refuses a concurrency that is not a positive integer", () => {
  assert.throws(
    () => new Scheduler({ concurrency: 0, run: () => Promise.resolve(), onError: () => {} }),
    RangeError,
  );
});
