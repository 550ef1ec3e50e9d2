/**
 * A batch of mutations that commit together: the effect, its journal entries,
 * its audit records and any spent grant land in one transaction.
 *
 * @module
 */
import type { Mutation } from "./store.ts";

/** Mutations collected for one commit. */
export class Batch {
  readonly mutations: Mutation[] = [];
  /** Callbacks to run once the batch is durable (events, wake-ups). */
  readonly afterCommit: (() => void)[] = [];

  /** Adds a mutation. */
  add(mutation: Mutation): void {
    this.mutations.push(mutation);
  }

  /** Runs `fn` once the batch is durable. */
  then(fn: () => void): void {
    this.afterCommit.push(fn);
  }

  /** Moves everything out of `other` into this batch. */
  absorb(other: Batch): void {
    this.mutations.push(...other.mutations);
    this.afterCommit.push(...other.afterCommit);
    other.mutations.length = 0;
    other.afterCommit.length = 0;
  }

  /** True when there is nothing to commit. */
  get empty(): boolean {
    return this.mutations.length === 0 && this.afterCommit.length === 0;
  }
}
