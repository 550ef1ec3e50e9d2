import assert from "node:assert/strict";
import {
  AttemptTimedOut,
  backoffDelay,
  RetriesExhausted,
  retryAfterMs,
  withAttemptDeadline,
  withRetries,
} from "./model_retry.ts";

const never = new AbortController().signal;

Deno.test("backoffDelay doubles from the base, caps at the maximum, and jitters the upper half", () => {
  const o = { baseDelayMs: 100, maxDelayMs: 1000 };
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(n, { ...o, random: () => 0 })), [
    50,
    100,
    200,
    400,
    500,
  ]);
  assert.deepEqual([0, 4].map((n) => backoffDelay(n, { ...o, random: () => 0.999 })), [100, 1000]);
});

Deno.test("withRetries retries a retryable failure, waiting the backoff, until success", async () => {
  const sleeps: number[] = [];
  let calls = 0;
  const value = await withRetries(
    () => {
      calls += 1;
      return calls < 3 ? Promise.reject(new Error("503")) : Promise.resolve("ok");
    },
    { signal: never, classify: () => ({ retry: true }) },
    {
      maxRetries: 5,
      baseDelayMs: 10,
      random: () => 0,
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    },
  );
  assert.deepEqual([value, calls, sleeps], ["ok", 3, [5, 10]]);
});

Deno.test("withRetries honours the server's retry-after, capped at the maximum delay", async () => {
  const sleeps: number[] = [];
  let calls = 0;
  await withRetries(() => (++calls < 3 ? Promise.reject(new Error("429")) : Promise.resolve()), {
    signal: never,
    classify: () => ({ retry: true, afterMs: calls === 1 ? 1234 : 99_999 }),
  }, { maxDelayMs: 8000, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });
  assert.deepEqual(sleeps, [1234, 8000]);
});

Deno.test("withRetries rethrows a final failure at once and wraps one after retries", async () => {
  const bad = new Error("400");
  await assert.rejects(
    withRetries(() => Promise.reject(bad), { signal: never, classify: () => ({ retry: false }) }),
    (e) => e === bad,
  );
  const err = await withRetries(() => Promise.reject(new Error("500")), {
    signal: never,
    classify: () => ({ retry: true }),
  }, { maxRetries: 2, baseDelayMs: 0 }).catch((e) => e);
  assert.ok(err instanceof RetriesExhausted);
  assert.equal(err.attempts, 3);
  assert.equal((err.last as Error).message, "500");
});

Deno.test("withRetries stops waiting and attempting once the signal aborts", async () => {
  const abort = new AbortController();
  let calls = 0;
  const err = await withRetries(
    () => {
      calls += 1;
      return Promise.reject(new Error("503"));
    },
    { signal: abort.signal, classify: () => ({ retry: true }) },
    {
      maxRetries: 10,
      sleep: (_ms, signal) => {
        abort.abort(new Error("killed"));
        return Promise.reject(signal.reason);
      },
    },
  ).catch((e) => e);
  assert.equal((err as Error).message, "killed");
  assert.equal(calls, 1);
});

Deno.test("retryAfterMs reads retry-after-ms, seconds and HTTP dates", () => {
  assert.equal(retryAfterMs(new Headers({ "retry-after-ms": "250" })), 250);
  assert.equal(retryAfterMs(new Headers({ "retry-after": "2" })), 2000);
  const now = Date.UTC(2026, 0, 1);
  assert.equal(
    retryAfterMs(new Headers({ "retry-after": new Date(now + 3000).toUTCString() }), now),
    3000,
  );
  assert.equal(retryAfterMs(new Headers({})), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});

Deno.test("withAttemptDeadline reports its own deadline as AttemptTimedOut and the caller's abort as is", async () => {
  const slow = (signal: AbortSignal) =>
    new Promise<never>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  await assert.rejects(withAttemptDeadline(never, 5, slow), AttemptTimedOut);
  const abort = new AbortController();
  const p = withAttemptDeadline(abort.signal, 60_000, slow);
  abort.abort(new Error("paused"));
  await assert.rejects(p, /paused/);
  assert.equal(await withAttemptDeadline(never, 60_000, () => Promise.resolve(7)), 7);
});
