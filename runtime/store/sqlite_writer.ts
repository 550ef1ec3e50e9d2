/**
 * The writes of the embedded store: batches that arrive together are
 * committed in one transaction, in arrival order (`group_commit.ts`: one
 * fsync for all of them); a group that fails is retried batch by batch, so
 * that only a bad batch is refused. Id reservations run in transactions of
 * their own, after what waits.
 *
 * A group is committed in the kernel's thread when it is alone (one batch
 * waited for: a lone process's step gets the shortest path) and in the
 * writer thread (`sqlite_writer_thread.ts`) when several processes wait:
 * then up to {@linkcode THREAD_IN_FLIGHT} groups of at most
 * {@linkcode THREAD_GROUP} batches are on their way at once, and the kernel
 * runs the steps of processes whose commits are done while the next group is
 * fsynced. Groups never overlap across the two threads: one goes to the
 * kernel's thread only when none is in the writer thread.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { GroupCommit } from "./group_commit.ts";
import type { EncodedMutation } from "./store_encoding.ts";
import {
  commitGroup,
  prepareWrites,
  releaseIdsIn,
  reserveIdsIn,
  type WriteStatements,
} from "./sqlite_writes.ts";
import { SqliteWriterThread, type WriterThreadOptions } from "./sqlite_writer_thread.ts";

/** Groups on their way to the writer thread at once, at most. */
export const THREAD_IN_FLIGHT = 4;
/** Batches in one group sent to the writer thread, at most. */
export const THREAD_GROUP = 32;

/** Counters of a writer. */
export interface WriterStats {
  /** Group flushes (each starts with one transaction). */
  flushes: number;
  /** Write transactions begun, including the one-by-one retries of a failed flush. */
  transactions: number;
  /** Of the flushes, those committed by the writer thread. */
  threadFlushes: number;
}

/** Options of {@linkcode SqliteWriter}. */
export interface WriterOptions {
  /** How long a group waits for more batches, in ms (0: the next macrotask tick). */
  groupCommitMs: number;
  /** The writer thread's settings. */
  thread: WriterThreadOptions;
}

interface _Batch {
  ops: EncodedMutation[];
  behind: boolean;
}

/**
 * The writes of a store, in the order they are asked for: batches are
 * committed together on the next macrotask tick (or after `groupCommitMs`).
 */
export class SqliteWriter {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #s: WriteStatements;
  readonly #groups: GroupCommit<_Batch>;
  readonly #thread: SqliteWriterThread;
  readonly stats: WriterStats = { flushes: 0, transactions: 0, threadFlushes: 0 };

  constructor(db: DatabaseSync, path: string, options: WriterOptions) {
    this.#db = db;
    this.#path = path;
    this.#s = prepareWrites(db);
    this.#thread = new SqliteWriterThread(path, options.thread);
    this.#groups = new GroupCommit({
      delayMs: options.groupCommitMs,
      inFlight: () => this.#thread.ready ? THREAD_IN_FLIGHT : 1,
      groupLimit: () => this.#thread.ready ? THREAD_GROUP : Infinity,
      commit: (batches) => this.#commit(batches),
    });
  }

  /**
   * Commits a batch with whatever else is waiting; resolves when it is
   * durable. `behind`: see {@linkcode GroupCommit}.
   */
  commit(ops: EncodedMutation[], behind = false): Promise<void> {
    return this.#groups.add({ ops, behind }, behind);
  }

  /** Reserves `count` ids of `kind` in a transaction of its own, after what waits; the first. */
  async reserve(
    kind: string,
    count: number,
    atLeast: number | undefined,
    reset: boolean,
  ): Promise<number> {
    await this.#groups.flush();
    return reserveIdsIn(this.#db, this.#s, kind, count, atLeast, reset);
  }

  /** Gives back `from … end - 1` of the last block of `kind`, after what waits. */
  async release(kind: string, from: number, end: number): Promise<void> {
    await this.#groups.flush();
    releaseIdsIn(this.#db, this.#s, kind, from, end);
  }

  /** Commits what waits, then lets the writer thread go. */
  async close(): Promise<void> {
    await this.#groups.flush();
    await this.#thread.close();
  }

  #commit(batches: readonly _Batch[]): readonly unknown[] | Promise<readonly unknown[]> {
    this.stats.flushes++;
    const ops = batches.map((b) => b.ops);
    const thread = this.#thread;
    const waited = batches.reduce((n, b) => (b.behind ? n : n + 1), 0);
    if (thread.inFlight > 0 || (thread.ready && waited > 1)) {
      this.stats.threadFlushes++;
      return thread.commit(ops).then((out) => {
        this.stats.transactions += out.transactions;
        return out.errors;
      });
    }
    if (waited > 1) thread.start();
    const out = commitGroup(this.#db, this.#s, this.#path, ops);
    this.stats.transactions += out.transactions;
    return out.errors;
  }
}
