/**
 * Retries of a model call: exponential backoff with jitter on rate limits
 * (429), server errors (5xx), connection failures and timeouts; never on an
 * abort or on a caller's mistake (400, 401, 404, …). The providers turn their
 * SDK's own retries off and use this, so that the delays are injectable (tests
 * pass a zero base delay or a recording `sleep`) and a pause or kill aborts the
 * wait at once.
 *
 * @module
 */
import { systemClock } from "../substrate/clock.ts";

/** Options of {@linkcode withRetries}; every field has a default. */
export interface RetryOptions {
  /** Retries after the first attempt. Default: 2 (three attempts in all). */
  maxRetries?: number;
  /** The first backoff, doubled on each retry. Default: 500 ms. */
  baseDelayMs?: number;
  /** The longest backoff, and the longest `retry-after` honoured. Default: 8000 ms. */
  maxDelayMs?: number;
  /** Waits `ms` or rejects when `signal` aborts. Default: the system clock's sleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A number in [0, 1) for the jitter. Default: `Math.random`. */
  random?: () => number;
}

/** How a failed attempt is judged. */
export type RetryVerdict =
  | { retry: false }
  /** Retry; `afterMs` is the server's `retry-after`, when it sent one. */
  | { retry: true; afterMs?: number };

/** What {@linkcode withRetries} needs from the caller besides the attempt. */
export interface RetryContext {
  /** Aborts the attempt in flight (the attempt sees it) and any backoff wait. */
  signal: AbortSignal;
  /** Judges a failure. */
  classify: (error: unknown) => RetryVerdict;
}

/** The error an exhausted or final failure is rethrown with, and how many attempts ran. */
export class RetriesExhausted extends Error {
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** The last attempt's error. */
  readonly last: unknown;

  constructor(attempts: number, last: unknown) {
    super(`failed after ${attempts} attempts`);
    this.name = "RetriesExhausted";
    this.attempts = attempts;
    this.last = last;
  }
}

/**
 * The backoff before retry number `retry` (from 0): `base · 2^retry`, capped at
 * `max`, of which the upper half is jittered ("equal jitter"), so that
 * concurrent processes that hit one rate limit spread out.
 */
export function backoffDelay(
  retry: number,
  options: { baseDelayMs: number; maxDelayMs: number; random: () => number },
): number {
  const full = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.round(full / 2 + (full / 2) * options.random());
}

/**
 * Runs `attempt` until it succeeds, a failure is judged final, the retries
 * run out, or `context.signal` aborts. A final failure after at least one retry
 * is wrapped in {@linkcode RetriesExhausted}; a first-attempt final failure and
 * an abort are rethrown as they are.
 */
export async function withRetries<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  context: RetryContext,
  options: RetryOptions = {},
): Promise<T> {
  const maxRetries = options.maxRetries ?? 2;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 8000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ??
    ((ms: number, signal: AbortSignal) => systemClock.sleep(ms, { signal }));
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 100) {
    throw new RangeError(
      `Cannot retry: maxRetries must be an integer in 0..100, not ${maxRetries}`,
    );
  }
  for (let n = 0;; n += 1) {
    context.signal.throwIfAborted();
    try {
      return await attempt(n);
    } catch (error) {
      if (context.signal.aborted) throw error;
      const verdict = context.classify(error);
      if (!verdict.retry || n >= maxRetries) {
        if (n === 0) throw error;
        throw new RetriesExhausted(n + 1, error);
      }
      const computed = backoffDelay(n, { baseDelayMs, maxDelayMs, random });
      const delay = verdict.afterMs === undefined
        ? computed
        : Math.min(maxDelayMs, Math.max(0, verdict.afterMs));
      await sleep(delay, context.signal);
    }
  }
}

/**
 * The server's requested delay from `retry-after-ms` or `retry-after` (seconds
 * or an HTTP date), or undefined.
 */
export function retryAfterMs(
  headers: Headers | undefined,
  now: number = Date.now(),
): number | undefined {
  if (headers === undefined) return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms)) return ms;
  const raw = headers.get("retry-after");
  if (raw === null) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * Marks an attempt that its own deadline ended (the SDK then reports an
 * abort, which must not be mistaken for the caller's).
 */
export class AttemptTimedOut extends Error {
  constructor(ms: number) {
    super(`no reply within ${ms} ms`);
    this.name = "AttemptTimedOut";
  }
}

/**
 * Runs one attempt under a deadline that covers the whole reply, streamed body
 * included: `run` gets a signal that aborts when `signal` does or `ms` pass.
 * A deadline that fired is reported as {@linkcode AttemptTimedOut}, whatever
 * `run` threw; the timer is cleared in every case.
 */
export async function withAttemptDeadline<T>(
  signal: AbortSignal,
  ms: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new AttemptTimedOut(ms));
  }, ms);
  try {
    if (signal.aborted) controller.abort(signal.reason);
    return await run(controller.signal);
  } catch (error) {
    if (timedOut && !signal.aborted) throw new AttemptTimedOut(ms);
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}
