import assert from "node:assert/strict";
import { FakeClock, systemClock } from "./clock.ts";

/** Whether `promise` has settled, after every queued promise callback has run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

Deno.test("FakeClock starts at the given time and stays there until advanced", () => {
  assert.equal(new FakeClock().now(), 0);
  const clock = new FakeClock(1_000);
  assert.equal(clock.now(), 1_000);
  clock.advance(250);
  assert.equal(clock.now(), 1_250);
  clock.advanceTo(2_000);
  assert.equal(clock.now(), 2_000);
});

Deno.test("FakeClock.sleep() resolves only once time passes its deadline", async () => {
  const clock = new FakeClock(100);
  const woke = clock.sleep(50);
  assert.equal(clock.pending, 1);
  clock.advance(49);
  assert.equal(await isSettled(woke), false);
  clock.advance(1);
  assert.equal(await isSettled(woke), true);
  assert.equal(clock.now(), 150);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.advance() fires due timers in time order, each at its own time", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const note = (name: string) => () => fired.push(`${name}@${clock.now()}`);
  clock.setTimer(30, note("c"));
  clock.setTimer(10, note("a1"));
  clock.setTimer(20, note("b"));
  clock.setTimer(10, note("a2"));
  clock.setTimer(45, note("late"));
  clock.advance(40);
  assert.deepEqual(fired, ["a1@10", "a2@10", "b@20", "c@30"]);
  assert.equal(clock.now(), 40);
  assert.equal(clock.pending, 1);
});

Deno.test("FakeClock.advance() fires timers that callbacks set, if due by its end", () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  clock.setTimer(10, () => {
    fired.push(clock.now());
    clock.setTimer(clock.now() + 5, () => fired.push(clock.now()));
    clock.setTimer(clock.now() + 100, () => fired.push(clock.now()));
  });
  clock.advance(20);
  assert.deepEqual(fired, [10, 15]);
  assert.equal(clock.pending, 1);
  clock.advanceTo(110);
  assert.deepEqual(fired, [10, 15, 110]);
});

Deno.test("FakeClock fires a timer set for now or the past at the next advance", () => {
  const clock = new FakeClock(500);
  let fired = 0;
  clock.setTimer(400, () => fired++);
  clock.setTimer(500, () => fired++);
  assert.equal(fired, 0, "never inside setTimer");
  clock.advance(0);
  assert.equal(fired, 2);
  assert.equal(clock.now(), 500, "time does not move back to the timer's time");
});

Deno.test("disposing a FakeClock timer cancels it; disposing twice or after it fired is harmless", () => {
  const clock = new FakeClock();
  let fired = 0;
  const cancelled = clock.setTimer(10, () => fired++);
  const kept = clock.setTimer(10, () => fired++);
  cancelled[Symbol.dispose]();
  cancelled[Symbol.dispose]();
  assert.equal(clock.pending, 1);
  clock.advance(10);
  assert.equal(fired, 1);
  kept[Symbol.dispose]();
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.setTimer() at Infinity never fires; at NaN is a RangeError", () => {
  const clock = new FakeClock();
  let fired = false;
  using _never = clock.setTimer(Infinity, () => fired = true);
  clock.advance(Number.MAX_SAFE_INTEGER);
  assert.equal(fired, false);
  assert.equal(clock.pending, 0);
  assert.throws(() => clock.setTimer(NaN, () => {}), RangeError);
});

Deno.test("FakeClock only moves forward", () => {
  const clock = new FakeClock(100);
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advance(Infinity), RangeError);
  assert.throws(() => clock.advanceTo(99), /Cannot advance a fake clock to 99: it is at 100/);
  assert.equal(clock.now(), 100);
});

Deno.test("FakeClock.sleep(0) resolves without an advance", async () => {
  const clock = new FakeClock();
  assert.equal(await isSettled(clock.sleep(0)), true);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.sleep() refuses a negative, infinite or NaN duration", async () => {
  const clock = new FakeClock();
  for (const ms of [-1, Infinity, NaN]) {
    await assert.rejects(clock.sleep(ms), RangeError, String(ms));
  }
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.sleep() rejects with the signal's reason on abort and drops its timer", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const sleeping = clock.sleep(1_000, { signal: controller.signal });
  assert.equal(clock.pending, 1);
  const reason = new Error("cancelled by the test");
  controller.abort(reason);
  await assert.rejects(sleeping, (error) => error === reason);
  assert.equal(clock.pending, 0);
  clock.advance(1_000); // nothing left to fire, nothing resolves twice
});

Deno.test("FakeClock.sleep() with an aborted signal rejects at once without a timer", async () => {
  const clock = new FakeClock();
  const signal = AbortSignal.abort(new Error("already"));
  await assert.rejects(clock.sleep(10, { signal }), /already/);
  await assert.rejects(clock.sleep(0, { signal }), /already/);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.sleep() resolving removes its abort listener", async () => {
  const clock = new FakeClock();
  const signal = new AbortController().signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  }) as typeof remove;
  const sleeping = clock.sleep(10, { signal });
  assert.equal(listeners, 1);
  clock.advance(10);
  await sleeping;
  assert.equal(listeners, 0);
});

Deno.test("a throwing timer callback stops FakeClock.advance() at its time", () => {
  const clock = new FakeClock();
  let later = 0;
  clock.setTimer(10, () => {
    throw new Error("boom");
  });
  clock.setTimer(20, () => later++);
  assert.throws(() => clock.advance(30), /boom/);
  assert.equal(clock.now(), 10);
  assert.equal(clock.pending, 1);
  clock.advance(20);
  assert.equal(later, 1);
});

Deno.test("FakeClock.advanceAsync() wakes code that sleeps again within the window", async () => {
  const ticks = async (clock: FakeClock, seen: number[]) => {
    for (let i = 0; i < 3; i++) {
      await clock.sleep(10);
      seen.push(clock.now());
    }
  };
  const asyncClock = new FakeClock();
  const asyncSeen: number[] = [];
  const asyncDone = ticks(asyncClock, asyncSeen);
  await asyncClock.advanceAsync(30);
  await asyncDone;
  assert.deepEqual(asyncSeen, [10, 20, 30]);
  // advance() is synchronous: the sleeper resumes only after it returns.
  const syncClock = new FakeClock();
  const syncSeen: number[] = [];
  const syncDone = ticks(syncClock, syncSeen);
  syncClock.advance(30);
  assert.equal(await isSettled(syncDone), false);
  assert.deepEqual(syncSeen, [30]);
  syncClock.advance(20); // fires the sleep due at 40, but the sleeper sees 50
  assert.equal(await isSettled(syncDone), false);
  syncClock.advance(10);
  await syncDone;
  assert.deepEqual(syncSeen, [30, 50, 60]);
});

Deno.test("systemClock.now() reads the host's time", () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= Date.now());
});

Deno.test("systemClock.sleep(1) resolves after at least 1 ms", async () => {
  const start = performance.now();
  await systemClock.sleep(1);
  assert.ok(performance.now() - start >= 0.5);
});

/**
 * Watches the host's timers while in scope: which were set (with their delay),
 * which fired, which were cleared. Deno's sanitizers do not report a pending
 * timer, so the tests check that themselves.
 */
function watchTimers() {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const delays = new Map<unknown, number>();
  const done = new Set<unknown>();
  globalThis.setTimeout = ((callback: () => void, delay?: number) => {
    const id = realSet(() => {
      done.add(id);
      callback();
    }, delay);
    delays.set(id, delay ?? 0);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id: number) => {
    done.add(id);
    realClear(id);
  }) as typeof clearTimeout;
  return {
    delays,
    /** Timers set and neither fired nor cleared. */
    get live(): number {
      return [...delays.keys()].filter((id) => !done.has(id)).length;
    },
    [Symbol.dispose]() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
      for (const id of delays.keys()) realClear(id as number);
    },
  };
}

Deno.test("systemClock.sleep() rejects with the signal's reason on abort and clears its timer", async () => {
  using timers = watchTimers();
  const controller = new AbortController();
  const sleeping = systemClock.sleep(60_000, { signal: controller.signal });
  assert.deepEqual([...timers.delays.values()], [60_000]);
  assert.equal(timers.live, 1);
  controller.abort(new Error("stop"));
  await assert.rejects(sleeping, /stop/);
  assert.equal(timers.live, 0);
  await assert.rejects(systemClock.sleep(10, { signal: controller.signal }), /stop/);
  await assert.rejects(systemClock.sleep(-5), RangeError);
  assert.equal(timers.delays.size, 1, "no timer for a refused sleep");
});

Deno.test("systemClock.setTimer() fires a past time at once", async () => {
  const fired = await new Promise<boolean>((resolve) => {
    systemClock.setTimer(Date.now() - 1_000, () => resolve(true));
  });
  assert.equal(fired, true);
});

Deno.test("systemClock.setTimer() re-arms delays past setTimeout's limit and clears on dispose", () => {
  using timers = watchTimers();
  let fired = false;
  {
    using _far = systemClock.setTimer(Date.now() + 2 ** 33, () => fired = true);
    using _near = systemClock.setTimer(Date.now() + 60_000, () => fired = true);
    using _never = systemClock.setTimer(Infinity, () => fired = true);
    const delays = [...timers.delays.values()];
    assert.equal(delays[0], 2 ** 31 - 1, "capped, not overflowed to an immediate timer");
    assert.ok(delays[1]! > 59_000 && delays[1]! <= 60_000);
    assert.equal(delays.length, 2, "no timer for Infinity");
    assert.equal(timers.live, 2);
  }
  assert.equal(timers.live, 0);
  assert.equal(fired, false);
});
