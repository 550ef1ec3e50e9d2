/**
 * A batch of mutations that commit together: the effect, its journal entries,
 * its audit records and any spent grant land in one transaction.
 *
 * @module
 */
import type { Mutation } from "../store/store.ts";
import type { AuditEntry, Pid, ProcessRecord, StoredAudit } from "../types.ts";

/** Mutations collected for one commit. */
export class Batch {
  readonly mutations: Mutation[] = [];
  /**
   * Processes whose record changed: written once, as they are when the batch
   * commits (a step changes its record several times).
   */
  readonly processes: Map<Pid, ProcessRecord> = new Map();
  /**
   * Audit entries, chained (seq and hash) when the batch is handed to the
   * store, so that the chain's order is the order batches land in: a crash
   * can lose a batch's records only with every batch handed over after it.
   */
  readonly audits: { entry: AuditEntry; stored: StoredAudit | null }[] = [];
  /** Callbacks to run once the batch is durable (events, wake-ups). */
  readonly afterCommit: (() => void)[] = [];
  /**
   * Whether the batch took ids (a store of one kernel): the ids given are
   * then written as they stand when the batch commits (never as they stood
   * when it took its ids, which a later batch may have passed already).
   */
  counters = false;
  /**
   * Whether whoever made the batch must wait for it to be durable before it
   * goes on: the batch holds the result of a syscall that is not safe to
   * redo, whose loss in a crash would turn an effect that happened into one
   * found in flight (EUNKNOWN). A batch without it may be committed behind
   * (see `ProcessLifecycle.commitBehind`).
   */
  mustAwait = false;
  /**
   * Processes already queued to run again although this batch, which makes
   * them runnable, may not be durable yet (committed behind): the batch
   * does not queue them a second time when it lands.
   */
  readonly scheduled: Set<Pid> = new Set();

  /** Adds a mutation. */
  add(mutation: Mutation): void {
    this.mutations.push(mutation);
  }

  /** Runs `fn` once the batch is durable. */
  then(fn: () => void): void {
    this.afterCommit.push(fn);
  }

  /** True when there is nothing to commit. */
  get empty(): boolean {
    return this.mutations.length === 0 && this.afterCommit.length === 0 &&
      this.processes.size === 0 && !this.counters && this.audits.length === 0;
  }
}
