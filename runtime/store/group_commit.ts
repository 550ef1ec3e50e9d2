/**
 * Group commit, for the SQL stores: batches handed over together are
 * committed together, in the order they came, one transaction (and one fsync
 * or round trip) for all of them. A group is committed on the next macrotask
 * tick (or after `delayMs`); batches that arrive while one commits form the
 * next group.
 *
 * A batch handed over "behind" (its maker does not wait for it: see
 * `ProcessLifecycle.commitBehind`) does not start a group of its own: it rides with
 * the next batch that does, or goes after `behindMs` at the latest. A step
 * of a process then costs one durable commit instead of two.
 *
 * A committer that commits groups strictly in the order it is handed them
 * (one writer thread reading a FIFO queue: `sqlite_writer_thread.ts`) may take
 * several at once (`inFlight`): the next group then forms and is handed over
 * while one is being made durable, so the kernel keeps running steps during
 * an fsync instead of waiting for it.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";

/**
 * Commits `items` as one group, in order; answers each item's error (null or
 * undefined when it committed).
 */
export type CommitGroup<T> = (
  items: readonly T[],
) => readonly unknown[] | Promise<readonly unknown[]>;

/** Options of {@linkcode GroupCommit}. */
export interface GroupCommitOptions<T> {
  /** How long a group waits for more batches, in ms (0: the next macrotask tick). */
  delayMs: number;
  /** How long a batch handed over behind waits for a group to join, at most, in ms. */
  behindMs?: number;
  /**
   * How many groups may be committing at once (default 1), asked before each
   * group. More than 1 only for a committer that makes groups durable in the
   * order it was handed them.
   */
  inFlight?: () => number;
  /** The most batches in one group (default: every batch waiting), asked before each group. */
  groupLimit?: () => number;
  commit: CommitGroup<T>;
}

/** The longest a batch handed over behind waits for company, by default. */
const _BEHIND_MS = 5;

interface _Queued<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A queue of batches committed in groups. */
export class GroupCommit<T> {
  readonly #options: GroupCommitOptions<T>;
  #queue: _Queued<T>[] = [];
  /** The scheduled start of the next group, and whether only batches behind asked for it. */
  #timer: { cancel: () => void; behind: boolean } | null = null;
  /** Groups handed to the committer and not yet answered. */
  #committing = 0;
  /** Who waits for a group to be answered (`flush`). */
  #answered: (() => void)[] = [];

  constructor(options: GroupCommitOptions<T>) {
    this.#options = options;
  }

  /** Batches waiting (not yet in a group being committed). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Hands a batch over; resolves when the group holding it has committed. */
  add(item: T, behind = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule(behind);
    });
  }

  /** Commits every batch waiting (and waits for the groups being committed). */
  async flush(): Promise<void> {
    while (this.#committing > 0 || this.#queue.length > 0) {
      this.#pump();
      if (this.#committing > 0) await new Promise<void>((r) => this.#answered.push(r));
      else await Promise.resolve();
    }
  }

  #limit(): number {
    return this.#options.inFlight?.() ?? 1;
  }

  #schedule(behind: boolean): void {
    // A group being answered takes what waits then.
    if (this.#committing >= this.#limit()) return;
    if (this.#timer !== null) {
      // A batch that is waited for does not wait on the timer of one behind.
      if (behind || !this.#timer.behind) return;
      this.#timer.cancel();
      this.#timer = null;
    }
    const go = () => {
      this.#timer = null;
      this.#pump();
    };
    const ms = behind ? this.#options.behindMs ?? _BEHIND_MS : this.#options.delayMs;
    if (ms > 0) {
      const id = setTimeout(go, ms);
      this.#timer = { cancel: () => clearTimeout(id), behind };
    } else {
      const immediate = setImmediate(go);
      this.#timer = { cancel: () => clearImmediate(immediate), behind };
    }
  }

  /** Hands what waits to the committer, as groups, while it may take more. */
  #pump(): void {
    if (this.#timer !== null) {
      this.#timer.cancel();
      this.#timer = null;
    }
    while (this.#queue.length > 0 && this.#committing < this.#limit()) {
      const size = this.#options.groupLimit?.() ?? Infinity;
      const group = this.#queue.length <= size ? this.#queue : this.#queue.slice(0, size);
      this.#queue = group === this.#queue ? [] : this.#queue.slice(size);
      this.#committing++;
      let out: readonly unknown[] | Promise<readonly unknown[]>;
      try {
        out = this.#options.commit(group.map((q) => q.item));
      } catch (error) {
        out = group.map(() => error);
      }
      if (Array.isArray(out)) {
        this.#settle(group, out as readonly unknown[]);
        continue;
      }
      (out as Promise<readonly unknown[]>).then(
        (errors) => this.#settle(group, errors, true),
        (error: unknown) => this.#settle(group, group.map(() => error), true),
      );
    }
  }

  /** Answers a group's batches; `next`: then hands over what came meanwhile (an answer that came later). */
  #settle(group: readonly _Queued<T>[], errors: readonly unknown[], next = false): void {
    this.#committing--;
    group.forEach((q, i) => {
      const error = errors[i];
      if (error === null || error === undefined) q.resolve();
      else q.reject(error);
    });
    const answered = this.#answered;
    this.#answered = [];
    for (const wake of answered) wake();
    // What came while it committed forms the next group now.
    if (next && this.#queue.length > 0) this.#pump();
  }
}
