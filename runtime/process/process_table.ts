/**
 * The process table: every process record this kernel owns, and the state
 * of each that lives only in memory (its context, the journal entries of the
 * tool call in progress, its abort controller, its last durable state).
 *
 * Records change only through the lifecycle service and the services that
 * write them into a batch; the table itself only holds and finds them.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { ContextMessage } from "../models/model_provider.ts";
import type { JournalEntry, Pid, ProcessRecord, ProcessState } from "../types.ts";

/** Per-process state that lives only in memory. */
export interface LiveState {
  messages: ContextMessage[] | null;
  /** Journal entries of the tool call in progress, by syscall number. */
  replay: Map<number, JournalEntry>;
  abort: AbortController | null;
  /** The state as of the last durable transition (what waiters may observe). */
  committed: ProcessState;
  /** Resumed after a crash: its first quantum is a recovery attempt. */
  probation: boolean;
}

/** The kernel's processes (see the module doc). */
export class ProcessTable {
  readonly #procs = new Map<Pid, ProcessRecord>();
  readonly #live = new Map<Pid, LiveState>();

  /** How many processes the table holds. */
  get size(): number {
    return this.#procs.size;
  }

  /** The live record (throws ENOENT). */
  get(pid: Pid): ProcessRecord {
    const p = this.#procs.get(pid);
    if (p === undefined) {
      throw libosError("ENOENT", `Cannot find process '${pid}': no such process`, { pid });
    }
    return p;
  }

  /** The live record, or undefined. */
  find(pid: Pid): ProcessRecord | undefined {
    return this.#procs.get(pid);
  }

  /** Whether the table holds `pid`. */
  has(pid: Pid): boolean {
    return this.#procs.has(pid);
  }

  /** Every record, in the order they were added. */
  values(): IterableIterator<ProcessRecord> {
    return this.#procs.values();
  }

  /** Registers a record (spawn, boot, adoption, import, fork from a checkpoint). */
  add(p: ProcessRecord): void {
    this.#procs.set(p.pid, p);
    this.#live.set(p.pid, {
      messages: null,
      replay: new Map(),
      abort: null,
      committed: p.state,
      probation: false,
    });
  }

  /** In-memory state of a process. */
  liveOf(pid: Pid): LiveState {
    let live = this.#live.get(pid);
    if (live === undefined) {
      live = {
        messages: null,
        replay: new Map(),
        abort: null,
        committed: this.#procs.get(pid)?.state ?? "created",
        probation: false,
      };
      this.#live.set(pid, live);
    }
    return live;
  }

  /** Forgets a process's in-memory context (it is rebuilt from the journal). */
  resetLive(pid: Pid): void {
    const live = this.liveOf(pid);
    live.messages = null;
    live.replay.clear();
  }

  /** Live descendants and dead ones alike. */
  descendants(pid: Pid): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    for (const q of this.#procs.values()) if (q.lineage.includes(pid)) out.push(q);
    return out;
  }

  /** Forgets every process (the kernel lost its lease). */
  clear(): void {
    this.#procs.clear();
    this.#live.clear();
  }
}
