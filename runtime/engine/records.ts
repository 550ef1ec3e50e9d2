/**
 * The kernel's durable writer: ids, journal entries, audit records and the
 * saved records of processes, grants and human requests go into a
 * {@linkcode Batch}, and {@linkcode Records.commit} hands a batch to the store
 * (chaining its audit records then, in the order batches land).
 *
 * It owns the ids (blocks reserved from the store), the audit chain and the
 * journal heads; the kernel builds it and passes it to every service that
 * writes (the engine, the step loop, the human queue, checkpoints, spawn).
 *
 * @module
 */
import type { AuditChain } from "../audit/audit_chain.ts";
import type { GrantTable } from "../capability/grant_table.ts";
import type { IdBlocks } from "../cluster/id_blocks.ts";
import { noticesOf, type Notifier } from "../cluster/notifier.ts";
import { hasCode } from "../errors.ts";
import type { EventBus } from "../events.ts";
import type { Fence, Store } from "../store/store.ts";
import type { Clock } from "../substrate/clock.ts";
import type {
  AuditEntry,
  Grant,
  HumanRequest,
  JournalEntry,
  JournalKind,
  Pid,
  ProcessRecord,
  StoredAudit,
} from "../types.ts";
import type { Batch } from "./batch.ts";
import { stampCommand } from "./command_ledger.ts";

/** The fields of an audit record a caller gives; the kernel fills in the rest. */
export type AuditInput =
  & Omit<
    AuditEntry,
    "at" | "step" | "callId" | "detail" | "capabilityId" | "resource" | "decision" | "pid"
  >
  & Partial<AuditEntry>;

/** Where a journal entry sits in a process's work. */
export interface JournalWhere {
  turn?: number | null;
  callId?: string | null;
  sys?: number | null;
}

/** What {@linkcode Records} writes with and tells. */
export interface RecordsOptions {
  store: Store;
  /** This kernel's id and lease epoch: every write carries it. */
  fence: Fence;
  ids: IdBlocks;
  audit: AuditChain;
  clock: Clock;
  events: EventBus;
  notifier: Notifier;
  /** The grant table a saved grant is put into. */
  grants: GrantTable;
  /** The human request table a saved request is put into. */
  human: Map<string, HumanRequest>;
  /** The store refused a write for a lost lease (`EFENCED`). */
  fenced: (error: unknown) => void;
  /** Any other store failure: the kernel stops. */
  failed: (error: unknown) => void;
}

/** The kernel's durable writer (see the module doc). */
export class Records {
  readonly #o: RecordsOptions;
  #journalHeads = new Map<Pid, number>();

  constructor(options: RecordsOptions) {
    this.#o = options;
  }

  /** The head of the audit chain (seq and hash of the last record). */
  get auditHead(): StoredAudit | null {
    return this.#o.audit.head;
  }

  /**
   * Commits a batch; a store failure stops the kernel. `behind`: the caller
   * does not wait (see `ProcessLifecycle.commitBehind`), and the
   * store may keep the batch for its next group.
   */
  async commit(batch: Batch, behind = false): Promise<void> {
    if (batch.empty) return;
    const { store, fence } = this.#o;
    const mutations = batch.mutations.splice(0);
    if (batch.counters) {
      // The ids given as they stand now: batches land in the order they
      // commit, so the stored counters only ever grow.
      batch.counters = false;
      mutations.push({ kind: "meta.put", key: "counters", value: { ...this.#o.ids.given } });
    }
    for (const p of batch.processes.values()) mutations.push({ kind: "process.put", process: p });
    batch.processes.clear();
    // Audit records are chained now, as the batch is handed to the store: the
    // chain's order is the order batches land in (no gap after a crash).
    for (const a of batch.audits.splice(0)) {
      a.stored = this.#o.audit.append(a.entry);
      mutations.push({ kind: "audit.append", record: a.stored });
    }
    // The first batch of an idempotent command carries its record.
    if (mutations.length > 0) stampCommand(mutations);
    const after = batch.afterCommit.splice(0);
    if (mutations.length > 0) {
      try {
        await store.apply(mutations, behind ? { fence, behind } : { fence });
      } catch (error) {
        if (hasCode(error, "EFENCED")) this.#o.fenced(error);
        else this.#o.failed(error);
        throw error;
      }
      if (store.shared) this.#o.notifier.publish(noticesOf(fence.kernel, mutations));
    }
    for (const fn of after) fn();
  }

  /**
   * The next id of a kind (`pid`, `grant`, `human`, …), from a block the
   * store reserved: unique across every kernel of the store.
   */
  nextId(kind: string, prefix: string, batch: Batch): string {
    const id = this.#o.ids.next(kind);
    // A store of one kernel also records the ids given, so that the next boot
    // restarts right after them (no gap after a crash).
    if (!this.#o.store.shared) batch.counters = true;
    return `${prefix}${id}`;
  }

  /** Whether ids of these kinds can be taken at once. */
  idsAt(needs: Readonly<Record<string, number>>): boolean {
    return this.#o.ids.has(needs);
  }

  /**
   * Resolves once a refill the kinds short of `needs` wait on is in (they may
   * be taken by others meanwhile: check {@linkcode Records.idsAt} again, and
   * take the ids with no await in between).
   */
  idsRefill(needs: Readonly<Record<string, number>>): Promise<void> {
    return this.#o.ids.ready(needs);
  }

  /** Makes sure `count` ids of `kind` can be taken synchronously. */
  ensureIds(kind: string, count: number): Promise<void> {
    return this.#o.ids.ensure(kind, count);
  }

  /** Appends an audit record to the batch. */
  audit(batch: Batch, entry: AuditInput): void {
    const full: AuditEntry = {
      at: this.#o.clock.now(),
      actor: entry.actor,
      action: entry.action,
      pid: entry.pid ?? null,
      resource: entry.resource ?? null,
      decision: entry.decision ?? null,
      capabilityId: entry.capabilityId ?? null,
      step: entry.step ?? null,
      callId: entry.callId ?? null,
      detail: entry.detail ?? {},
    };
    // Chained when the batch is handed to the store (commit), in that order.
    const audit: { entry: AuditEntry; stored: StoredAudit | null } = { entry: full, stored: null };
    batch.audits.push(audit);
    const events = this.#o.events;
    if (events.size > 0) {
      batch.then(() =>
        events.emit({
          type: "audit",
          seq: audit.stored!.seq,
          action: full.action,
          pid: full.pid,
          decision: full.decision,
        })
      );
    }
  }

  /** Appends a journal entry to the batch. */
  journal(
    batch: Batch,
    pid: Pid,
    kind: JournalKind,
    data: Record<string, unknown>,
    where: JournalWhere = {},
  ): JournalEntry {
    const seq = (this.#journalHeads.get(pid) ?? 0) + 1;
    this.#journalHeads.set(pid, seq);
    const entry: JournalEntry = {
      pid,
      seq,
      at: this.#o.clock.now(),
      kind,
      turn: where.turn ?? null,
      callId: where.callId ?? null,
      sys: where.sys ?? null,
      data,
    };
    batch.add({ kind: "journal.append", entry });
    return entry;
  }

  /** The last journal seq of a process. */
  journalHead(pid: Pid): number {
    return this.#journalHeads.get(pid) ?? 0;
  }

  /** Takes the journal heads the store holds (boot, adoption). */
  loadJournalHeads(heads: Readonly<Record<Pid, number>>): void {
    for (const [pid, seq] of Object.entries(heads)) this.#journalHeads.set(pid, seq);
  }

  /** Writes the process record into the batch. */
  saveProcess(batch: Batch, p: ProcessRecord): void {
    p.updatedAt = this.#o.clock.now();
    batch.processes.set(p.pid, p);
  }

  /** Writes a grant into the batch. */
  saveGrant(batch: Batch, g: Grant): void {
    this.#o.grants.put(g);
    batch.add({ kind: "grant.put", grant: g });
  }

  /** Writes a human request into the batch and announces it. */
  saveHuman(batch: Batch, r: HumanRequest): void {
    this.#o.human.set(r.id, r);
    batch.add({ kind: "human.put", request: r });
    const events = this.#o.events;
    if (events.size > 0) {
      const copy = structuredClone(r);
      batch.then(() => events.emit({ type: "human", request: copy }));
    }
  }
}
