/**
 * The limits the kernel enforces on isolate hosts and tool calls. Crossing
 * one ends the call with a typed error (`ETIMEDOUT`, `ENOMEM`, `ELIMIT`);
 * crossing a deadline, a memory limit or a message limit also kills the host.
 *
 * @module
 */

/** Limits of the sandbox; every field documents its default. */
export interface SandboxLimits {
  /** V8 heap limit of each isolate in a host, in MiB (`--max-old-space-size`). Default 256. */
  heapMb: number;
  /** Resident memory of a whole host, in bytes; past it the host is killed (`ENOMEM`). Default 1 GiB. */
  hostMemoryBytes: number;
  /** Largest message (frame) between kernel and host, in bytes (`ELIMIT`). Default 16 MiB. */
  messageBytes: number;
  /** Largest tool output, in bytes of its encoding (`ELIMIT`). Default 1 MiB. */
  outputBytes: number;
  /** Syscalls one call may make (`ELIMIT`). Default 10 000. */
  syscallsPerCall: number;
  /** Syscalls of one call in flight at once (`ELIMIT`). Default 64. */
  syscallsInFlight: number;
  /** Attempts the isolate may block in one call; past them the host is killed (`ELIMIT`). Default 100. */
  deniedPerCall: number;
  /** Log lines kept per call; later lines are dropped. Default 1000. */
  logLinesPerCall: number;
  /** Calls a host serves before it is recycled. Default 500. */
  callsPerHost: number;
  /** Tool workers a host keeps; the least recently used idle one goes first. Default 16. */
  workersPerHost: number;
  /** Largest tool source, in bytes. Default 1 MiB. */
  sourceBytes: number;
  /**
   * How long a tool's worker may go without answering the host once its call
   * has ended, in ms: a timer the tool left spinning is caught within this
   * (plus a quarter of it), and the host is killed (`ETIMEDOUT`). Default 1000.
   */
  idleAnswerMs: number;
  /** How often a busy host reports its memory, in ms. Default 50. */
  memoryPollMs: number;
  /** Time a host has to start and say it is ready, in ms. Default 15 000. */
  startMs: number;
}

/** The default limits. */
export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  heapMb: 256,
  hostMemoryBytes: 1 << 30,
  messageBytes: 16 << 20,
  outputBytes: 1 << 20,
  syscallsPerCall: 10_000,
  syscallsInFlight: 64,
  deniedPerCall: 100,
  logLinesPerCall: 1000,
  callsPerHost: 500,
  workersPerHost: 16,
  sourceBytes: 1 << 20,
  idleAnswerMs: 1000,
  memoryPollMs: 50,
  startMs: 15_000,
});

/** The defaults with `overrides` applied; throws RangeError for a non-positive limit. */
export function resolveLimits(overrides: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Cannot use sandbox limit '${key}': ${value} is not a positive integer`);
    }
  }
  return limits;
}
