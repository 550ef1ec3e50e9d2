/**
 * Signals: `pause` and `resume` apply to a process's whole subtree; `cancel`
 * and `kill` end it and every live descendant (`killed`, with the reason),
 * abort their quanta in flight and void their pending human requests.
 *
 * @module
 */
import type { Batch } from "../engine/batch.ts";
import { libosError } from "../errors.ts";
import type { Pid, ProcessRecord, ProcessState } from "../types.ts";
import { assertTransition, isTerminal } from "./lifecycle.ts";
import type { ProcessLifecycle } from "./process_lifecycle.ts";
import type { ProcessTable } from "./process_table.ts";
import type { Signal } from "./requests.ts";

/** What {@linkcode sendSignal} works with. */
export interface SignalDeps {
  table: ProcessTable;
  lifecycle: ProcessLifecycle;
  /** Voids every human request of `pid` in the batch (the process ended). */
  voidRequests: (batch: Batch, pid: Pid, why: string) => void;
}

/** Signals in `batch` (committed by the caller); returns the live record. */
export function sendSignal(
  deps: SignalDeps,
  batch: Batch,
  target: { pid: Pid; signal: Signal; actor: string },
): ProcessRecord {
  const { table, lifecycle } = deps;
  const { pid, signal, actor } = target;
  const p = table.get(pid);
  if (!["pause", "resume", "cancel", "kill"].includes(signal)) {
    throw libosError(
      "EINVAL",
      `Cannot signal ${pid}: unknown signal '${
        String(signal)
      }' (expected pause, resume, cancel or kill)`,
    );
  }
  const subtree = [p, ...table.descendants(pid)];
  switch (signal) {
    case "pause": {
      if (p.state === "suspended" || isTerminal(p.state)) {
        assertTransition(pid, p.state, "suspended");
      }
      for (const q of subtree) {
        if (q.state === "suspended" || isTerminal(q.state)) continue;
        q.suspendedFrom = q.state === "running" ? "runnable" : q.state;
        lifecycle.transition(batch, q, "suspended", { actor, reason: `paused by ${actor}` });
        table.liveOf(q.pid).abort?.abort(libosError("ECANCELED", `process ${q.pid} was paused`));
      }
      break;
    }
    case "resume": {
      if (p.state !== "suspended") {
        throw libosError(
          "ESTATE",
          `Cannot resume process ${pid}: it is ${p.state}, not suspended`,
          { pid },
        );
      }
      for (const q of subtree) {
        if (q.state !== "suspended") continue;
        const back = q.suspendedFrom ?? "runnable";
        q.suspendedFrom = null;
        // A timer that fired while suspended, or a child that ended, wakes at once.
        const target: ProcessState = back === "waiting" && lifecycle.waitSatisfied(q)
          ? "runnable"
          : back;
        lifecycle.transition(batch, q, target === "created" ? "runnable" : target, {
          actor,
          reason: null,
          wait: q.wait,
        });
        if (target === "waiting" && q.wait?.kind === "timer") {
          const until = q.wait.until;
          batch.then(() => lifecycle.armTimer(q.pid, until));
        }
      }
      break;
    }
    case "cancel":
    case "kill": {
      if (isTerminal(p.state)) assertTransition(pid, p.state, "killed");
      const reason = signal === "kill" ? `killed by ${actor}` : `cancelled by ${actor}`;
      for (const q of subtree.reverse()) {
        if (isTerminal(q.state)) continue;
        lifecycle.transition(batch, q, "killed", {
          actor,
          reason: q === p ? reason : `${reason} (ancestor ${pid})`,
        });
        table.liveOf(q.pid).abort?.abort(
          libosError(
            "ECANCELED",
            `process ${q.pid} was ${signal === "kill" ? "killed" : "cancelled"}`,
          ),
        );
        deps.voidRequests(batch, q.pid, `process ${q.pid} ended`);
      }
      break;
    }
  }
  return p;
}
