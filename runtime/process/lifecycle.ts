/**
 * The process lifecycle of DESIGN §2 as a transition table. A transition not in
 * the table is an error (`ESTATE`), never a silent no-op.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { Pid, ProcessState } from "../types.ts";

/** Every legal transition, from → to. */
const TRANSITIONS: Readonly<Record<ProcessState, readonly ProcessState[]>> = {
  created: ["runnable", "suspended", "killed", "failed"],
  runnable: ["running", "suspended", "killed", "failed"],
  running: ["runnable", "waiting", "suspended", "exited", "failed", "killed"],
  waiting: ["runnable", "suspended", "killed", "failed"],
  suspended: ["created", "runnable", "waiting", "killed", "failed"],
  exited: [],
  failed: [],
  killed: [],
};

/** States a process never leaves. */
export const TERMINAL_STATES: ReadonlySet<ProcessState> = new Set(["exited", "failed", "killed"]);

/** True for `exited`, `failed`, `killed`. */
export function isTerminal(state: ProcessState): boolean {
  return TERMINAL_STATES.has(state);
}

/** True when `from → to` is a legal transition. */
export function canTransition(from: ProcessState, to: ProcessState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Throws `ESTATE` unless `from → to` is legal. */
export function assertTransition(pid: Pid, from: ProcessState, to: ProcessState): void {
  if (canTransition(from, to)) return;
  throw libosError(
    "ESTATE",
    `Cannot move process ${pid} from ${from} to ${to}: ${
      TRANSITIONS[from].length === 0
        ? `${from} is a terminal state`
        : `${from} may only become ${TRANSITIONS[from].join(", ")}`
    }`,
    { pid, from, to },
  );
}
