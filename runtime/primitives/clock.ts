/**
 * The clock primitives: the kernel's time (journaled: a replay sees the same
 * instant) and sleep (the process waits, taking no slot).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { SyscallEngine } from "../engine/engine.ts";

/** The kernel's time (journaled: a replay sees the same instant). */
export function now(e: SyscallEngine): Promise<{ now: number; iso: string }> {
  return e.syscall("clock.now", {}, () => {
    const now = e.k.clock.now();
    return Promise.resolve({ now, iso: new Date(now).toISOString() });
  });
}

/** Sleeps; the process waits (not running) and wakes on the kernel's clock. */
export function sleep(e: SyscallEngine, ms: number): Promise<{ slept: number }> {
  return e.syscall("clock.sleep", { ms }, (c) => {
    if (!Number.isFinite(ms) || ms < 0 || ms > 7 * 24 * 3600_000) {
      throw libosError("EINVAL", `Cannot sleep ${ms} ms: expected 0 to 604,800,000`);
    }
    const until = typeof c.intent?.["until"] === "number"
      ? c.intent["until"] as number
      : e.k.clock.now() + ms;
    if (e.k.clock.now() >= until) return Promise.resolve({ slept: ms });
    e.park(c, { kind: "timer", until }, { until });
  });
}
