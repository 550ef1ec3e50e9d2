/**
 * The writes of the embedded store: batches that arrive together are
 * committed in one transaction, in arrival order, on the next macrotask tick
 * (group commit: one fsync for all of them); a group that fails is retried
 * batch by batch, so that only a bad batch is refused. Id reservations run
 * in transactions of their own, after what waits.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { EncodedMutation } from "./store_encoding.ts";
import {
  commitGroup,
  prepareWrites,
  releaseIdsIn,
  reserveIdsIn,
  type WriteStatements,
} from "./sqlite_writes.ts";

/** Counters of a writer. */
export interface WriterStats {
  /** Group flushes (each starts with one transaction). */
  flushes: number;
  /** Write transactions begun, including the one-by-one retries of a failed flush. */
  transactions: number;
}

/**
 * The writes of a store, in the order they are asked for: batches are
 * committed together on the next macrotask tick (or after `groupCommitMs`).
 */
export class SqliteWriter {
  readonly #db: DatabaseSync;
  readonly #s: WriteStatements;
  readonly #path: string;
  readonly #groupCommitMs: number;
  #queue: { ops: EncodedMutation[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #cancelTimer: (() => void) | null = null;
  readonly stats: WriterStats = { flushes: 0, transactions: 0 };

  constructor(db: DatabaseSync, path: string, groupCommitMs: number) {
    this.#db = db;
    this.#s = prepareWrites(db);
    this.#path = path;
    this.#groupCommitMs = groupCommitMs;
  }

  /** Commits a batch with whatever else is waiting; resolves when it is durable. */
  commit(ops: EncodedMutation[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, resolve, reject });
      this.#schedule();
    });
  }

  /** Reserves `count` ids of `kind` in a transaction of its own; the first. */
  reserve(
    kind: string,
    count: number,
    atLeast: number | undefined,
    reset: boolean,
  ): Promise<number> {
    return this.#now(() => reserveIdsIn(this.#db, this.#s, kind, count, atLeast, reset));
  }

  /** Gives back `from … end - 1` of the last block of `kind`. */
  release(kind: string, from: number, end: number): Promise<void> {
    return this.#now(() => releaseIdsIn(this.#db, this.#s, kind, from, end));
  }

  /** Commits what waits. */
  close(): Promise<void> {
    this.#flush();
    return Promise.resolve();
  }

  /** Runs a small write after what waits (synchronously: no batch is half-written). */
  #now<T>(write: () => T): Promise<T> {
    try {
      this.#flush();
      return Promise.resolve(write());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #schedule(): void {
    if (this.#cancelTimer !== null) return;
    const flush = () => {
      this.#cancelTimer = null;
      this.#flush();
    };
    if (this.#groupCommitMs > 0) {
      const id = setTimeout(flush, this.#groupCommitMs);
      this.#cancelTimer = () => clearTimeout(id);
    } else {
      const immediate = setImmediate(flush);
      this.#cancelTimer = () => clearImmediate(immediate);
    }
  }

  #flush(): void {
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
    const pending = this.#queue;
    if (pending.length === 0) return;
    this.#queue = [];
    this.stats.flushes++;
    const out = commitGroup(this.#db, this.#s, this.#path, pending.map((p) => p.ops));
    this.stats.transactions += out.transactions;
    pending.forEach((p, i) => {
      const error = out.errors[i];
      if (error === null || error === undefined) p.resolve();
      else p.reject(error);
    });
  }
}
