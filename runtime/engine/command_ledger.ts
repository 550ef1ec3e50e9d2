/**
 * Idempotent commands: the durable record of a command sent with a key
 * (the control plane's `Idempotency-Key`), so that a retry is answered from
 * the record instead of doing the command again.
 *
 * A command runs inside {@linkcode CommandLedger.run}. Every store batch the
 * kernel commits while it runs — the command's effects — carries the record
 * as `pending`, with the ids those batches wrote (`refs`): the record and
 * each effect are durable together or not at all. When the command answers,
 * the record becomes `done` with the answer. After a crash between the two,
 * the record is `pending` with its refs, and the caller can answer a retry
 * from what the effect made; a command that committed nothing left no record
 * and may simply run again.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Mutation, Store } from "../store/store.ts";
import type { CommandRecord, CommandRefs, CommandResponse } from "../types.ts";

/** One command in flight. */
interface _Scope {
  record: CommandRecord;
  /** Whether the command still runs (batches committed after it ended carry nothing). */
  open: boolean;
}

const _current = new AsyncLocalStorage<_Scope>();

/**
 * Called by the kernel as it commits a batch: every batch a command commits
 * while it runs carries the command's `pending` record with the ids of every
 * batch so far, so the record is durable with the first of its effects and
 * names all that committed. (Work the command started, such as a spawned
 * process's first step, may commit within it too; its ids come after the
 * command's own.)
 */
export function stampCommand(mutations: Mutation[]): void {
  const scope = _current.getStore();
  if (scope === undefined || !scope.open) return;
  scope.record = {
    ...scope.record,
    state: "pending",
    refs: refsOf(mutations, scope.record.refs ?? undefined),
  };
  mutations.push({ kind: "command.put", command: scope.record });
}

/** The ids a batch writes, by kind, after those of `before`. */
export function refsOf(mutations: readonly Mutation[], before?: CommandRefs): CommandRefs {
  const refs: CommandRefs = {
    processes: [...before?.processes ?? []],
    grants: [...before?.grants ?? []],
    human: [...before?.human ?? []],
    images: [...before?.images ?? []],
    checkpoints: [...before?.checkpoints ?? []],
  };
  const add = (list: string[], id: string) => {
    if (!list.includes(id)) list.push(id);
  };
  for (const m of mutations) {
    if (m.kind === "process.put") add(refs.processes, m.process.pid);
    else if (m.kind === "grant.put") add(refs.grants, m.grant.id);
    else if (m.kind === "human.put") add(refs.human, m.request.id);
    else if (m.kind === "image.put") add(refs.images, m.image.id);
    else if (m.kind === "checkpoint.put") add(refs.checkpoints, m.checkpoint.id);
  }
  return refs;
}

/** What a lookup of a key finds. */
export type CommandLookup =
  | { found: "none" }
  /** The same key is running now, in this kernel or (a shared store) another live one. */
  | { found: "running"; record: CommandRecord }
  | { found: "stored"; record: CommandRecord };

/** The kernel's idempotent commands. */
export class CommandLedger {
  readonly #store: Store;
  readonly #commit: (mutations: Mutation[]) => Promise<void>;
  readonly #now: () => number;
  /** Record ids of the commands running now. */
  readonly #running = new Map<string, CommandRecord>();

  constructor(
    store: Store,
    commit: (mutations: Mutation[]) => Promise<void>,
    now: () => number,
  ) {
    this.#store = store;
    this.#commit = commit;
    this.#now = now;
  }

  /**
   * The record of `id`: running here (or, on a shared store, claimed by
   * another kernel that is alive), stored (and not expired), or none. A
   * claim of a kernel no longer alive is none: it committed nothing.
   */
  async lookup(id: string): Promise<CommandLookup> {
    const running = this.#running.get(id);
    if (running !== undefined) return { found: "running", record: running };
    const stored = await this.#store.readCommand(id);
    if (stored === null || stored.expiresAt <= this.#now()) return { found: "none" };
    if (stored.state === "running") {
      return await this.#runnerAlive(stored) ? { found: "running", record: stored } : {
        found: "none",
      };
    }
    return { found: "stored", record: stored };
  }

  /**
   * Claims `record`'s id for the kernel `runner` across a shared store
   * before the command runs, so that the same key sent to two kernels at
   * once runs on one (the other finds it running). What is in the way when
   * it is not claimed: a claim of a live kernel (`running`) or a record
   * written meanwhile (`stored`). A store of one kernel needs no claim.
   */
  async claim(
    record: CommandRecord,
    runner: string,
  ): Promise<{ claimed: true } | { claimed: false; found: CommandLookup }> {
    const claimCommand = this.#store.claimCommand?.bind(this.#store);
    if (!this.#store.shared || claimCommand === undefined) return { claimed: true };
    const other = await claimCommand(record, runner, this.#now());
    if (other === null) return { claimed: true };
    return {
      claimed: false,
      found: other.state === "running"
        ? { found: "running", record: other }
        : { found: "stored", record: other },
    };
  }

  /**
   * Gives up `runner`'s claim of `id` when the command committed nothing
   * and is not answered (a 5xx, an error): a retry runs it again.
   */
  async release(id: string, runner: string): Promise<void> {
    await this.#store.releaseCommand?.(id, runner);
  }

  async #runnerAlive(record: CommandRecord): Promise<boolean> {
    if (record.runner === undefined) return false;
    const view = await this.#store.listKernels();
    return view.kernels.some((k) => k.id === record.runner && k.state === "alive");
  }

  /**
   * Runs a command under its record; answers what `fn` answered and the
   * record as the command's batches stamped it (with their refs). Only one
   * command per id runs at once: a second `run` of a running id throws
   * (callers check {@linkcode lookup} first; this guards the race between
   * the lookup and the run).
   */
  async run<T>(
    record: CommandRecord,
    fn: () => Promise<T>,
  ): Promise<{ result: T; record: CommandRecord }> {
    if (this.#running.has(record.id)) {
      throw new Error(`Cannot run command '${record.id}': it is running already`);
    }
    this.#running.set(record.id, record);
    const scope: _Scope = { record, open: true };
    try {
      const result = await _current.run(scope, fn);
      return { result, record: scope.record };
    } finally {
      scope.open = false;
      this.#running.delete(record.id);
    }
  }

  /** Whether `id` is running now, in this kernel. */
  isRunning(id: string): boolean {
    return this.#running.has(id);
  }

  /** Records a command's answer (durable when this resolves). */
  async finish(record: CommandRecord, response: CommandResponse): Promise<void> {
    await this.#commit([{
      kind: "command.put",
      command: { ...record, state: "done", response },
    }]);
  }

  /** Forgets the records that expired by now. */
  async purge(): Promise<void> {
    await this.#commit([{ kind: "command.purge", before: this.#now() }]);
  }
}
