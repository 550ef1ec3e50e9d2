/**
 * The writes of the embedded store: batches that arrive together are
 * committed in one transaction, in arrival order (`group_commit.ts`: one
 * fsync for all of them); a group that fails is retried batch by batch, so
 * that only a bad batch is refused. Id reservations run in transactions of
 * their own, after what waits.
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
  readonly #groups: GroupCommit<EncodedMutation[]>;
  readonly stats: WriterStats = { flushes: 0, transactions: 0 };

  constructor(db: DatabaseSync, path: string, groupCommitMs: number) {
    this.#db = db;
    this.#s = prepareWrites(db);
    this.#groups = new GroupCommit({
      delayMs: groupCommitMs,
      commit: (batches) => {
        this.stats.flushes++;
        const out = commitGroup(db, this.#s, path, batches);
        this.stats.transactions += out.transactions;
        return out.errors;
      },
    });
  }

  /**
   * Commits a batch with whatever else is waiting; resolves when it is
   * durable. `behind`: see {@linkcode GroupCommit}.
   */
  commit(ops: EncodedMutation[], behind = false): Promise<void> {
    return this.#groups.add(ops, behind);
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

  /** Commits what waits. */
  close(): Promise<void> {
    return this.#groups.flush();
  }
}
