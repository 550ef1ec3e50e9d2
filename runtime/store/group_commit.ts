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
  #draining: Promise<void> | null = null;

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

  /** Commits every batch waiting (and waits for the group being committed). */
  async flush(): Promise<void> {
    while (this.#draining !== null || this.#queue.length > 0) await this.#drain();
  }

  #schedule(behind: boolean): void {
    if (this.#draining !== null) return;
    if (this.#timer !== null) {
      // A batch that is waited for does not wait on the timer of one behind.
      if (behind || !this.#timer.behind) return;
      this.#timer.cancel();
      this.#timer = null;
    }
    const go = () => {
      this.#timer = null;
      void this.#drain();
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

  /**
   * Starts the commit loop unless it runs: it commits groups until the queue
   * is empty, and batches that arrive meanwhile form the next group.
   */
  #drain(): Promise<void> {
    if (this.#timer !== null) {
      this.#timer.cancel();
      this.#timer = null;
    }
    this.#draining ??= (async () => {
      while (this.#queue.length > 0) {
        const group = this.#queue;
        this.#queue = [];
        let errors: readonly unknown[];
        try {
          errors = await this.#options.commit(group.map((q) => q.item));
        } catch (error) {
          errors = group.map(() => error);
        }
        group.forEach((q, i) => {
          const error = errors[i];
          if (error === null || error === undefined) q.resolve();
          else q.reject(error);
        });
      }
    })().finally(() => {
      this.#draining = null;
      // A batch handed over between the loop's last look and now.
      if (this.#queue.length > 0) this.#schedule(false);
    });
    return this.#draining;
  }
}
