/**
 * An in-memory store with the semantics of the SQLite store, for tests and
 * throwaway kernels. Records are deep-copied (`structuredClone`) on the way in
 * and out, so a caller can never change what the store holds.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type {
  ApplyOptions,
  AuditQuery,
  ClaimedProcess,
  ClusterView,
  Fence,
  GrantQuery,
  HumanQuery,
  JournalQuery,
  KernelRegistration,
  LoadOptions,
  Mutation,
  ProcessQuery,
  ReserveIdsOptions,
  Store,
  StoreSnapshot,
} from "./store.ts";
import {
  auditKeys,
  checkReserve,
  matchesGrant,
  matchesHuman,
  matchesProcess,
  mutationKey,
  mutationSeq,
  narrowSnapshot,
  queryAfterSeq,
  queryLimit,
  sortByKey,
} from "./store_checks.ts";
import { LocalKernels } from "./local_kernels.ts";
import { isTerminal } from "../process/lifecycle.ts";
import { claimError } from "./store_encoding.ts";
import type {
  CheckpointInfo,
  CheckpointRecord,
  CommandRecord,
  Grant,
  HumanRequest,
  ImageRecord,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
  StoredAudit,
} from "../types.ts";

/** An audit record with the keys its body names. */
interface _Audit {
  record: StoredAudit;
  pid: string | null;
  action: string | null;
}

/** Every version of one object, ordered by version, and whether it is deleted. */
interface _Object {
  versions: ObjectRecord[];
  deleted: boolean;
}

/** The in-memory implementation of {@linkcode Store}. */
export class MemoryStore implements Store {
  /** Always "memory". */
  readonly kind = "memory";
  /** One kernel at a time. */
  readonly shared = false;

  #state: "open" | "closed" = "open";
  #processes = new Map<string, ProcessRecord>();
  #grants = new Map<string, Grant>();
  #objects = new Map<string, _Object>();
  /** Per pid, entries in seq order. */
  #journal = new Map<string, JournalEntry[]>();
  /** In seq order. */
  #audit: _Audit[] = [];
  #human = new Map<string, HumanRequest>();
  #images = new Map<string, ImageRecord>();
  #meta = new Map<string, unknown>();
  #checkpoints = new Map<string, CheckpointRecord>();
  #commands = new Map<string, CommandRecord>();
  #messages = new Map<string, MessageRecord>();
  #ids = new Map<string, number>();
  #kernels = new LocalKernels();

  /**
   * Applies a batch atomically, now (so batches land in call order); the
   * returned promise settles on a later microtask.
   */
  apply(batch: readonly Mutation[], options: ApplyOptions = {}): Promise<void> {
    try {
      this.#assertOpen("apply a batch to");
      if (options.fence !== undefined) this.#kernels.check(options.fence);
      const copy = _clone(batch);
      const undo: (() => void)[] = [];
      try {
        for (const mutation of copy) this.#run(mutation, undo);
      } catch (error) {
        for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
        throw error;
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Loads the state the kernel needs at boot. */
  load(options: LoadOptions = {}): Promise<StoreSnapshot> {
    return this.#read(() => narrowSnapshot(this.#loadAll(), options));
  }

  /** Reserves a block of ids, now. */
  reserveIds(kind: string, count: number, options: ReserveIdsOptions = {}): Promise<number> {
    return this.#read(() => {
      checkReserve(kind, count, options.atLeast);
      const last = options.reset === true
        ? options.atLeast ?? 0
        : Math.max(this.#ids.get(kind) ?? 0, options.atLeast ?? 0);
      this.#ids.set(kind, last + count);
      return last + 1;
    });
  }

  /** Gives back the tail of the last block. */
  releaseIds(kind: string, from: number, end: number): Promise<void> {
    return this.#read(() => {
      if (this.#ids.get(kind) === end - 1) this.#ids.set(kind, from - 1);
    });
  }

  /** Registers a kernel; the one before it is over. */
  async registerKernel(registration: KernelRegistration): Promise<Fence> {
    const n = await this.reserveIds("kernel", 1);
    return this.#kernels.register(`k_${n}`, registration, Date.now());
  }

  /** Renews a lease. */
  heartbeat(fence: Fence): Promise<void> {
    return this.#read(() => this.#kernels.heartbeat(fence, Date.now()));
  }

  /** Marks a kernel stopped. */
  stopKernel(fence: Fence): Promise<void> {
    return this.#read(() => this.#kernels.stop(fence));
  }

  /** The registry. */
  listKernels(): Promise<ClusterView> {
    return this.#read(() => {
      const all = this.#processes.size;
      const live = [...this.#processes.values()].filter((p) => !isTerminal(p.state)).length;
      return this.#kernels.view(Date.now(), { live, all });
    });
  }

  /** Declares a kernel dead. */
  declareDead(id: string, epoch: number): Promise<boolean> {
    return this.#read(() => this.#kernels.declareDead(id, epoch));
  }

  /** Nothing to claim: the one kernel loads every process. */
  claimProcesses(to: Fence): Promise<ClaimedProcess[]> {
    return this.#read(() => {
      this.#kernels.check(to);
      return [];
    });
  }

  #loadAll(): StoreSnapshot {
    const objects: ObjectRecord[] = [];
    for (const [, object] of _sorted(this.#objects)) {
      if (!object.deleted) objects.push(object.versions.at(-1)!);
    }
    const journalHeads: Record<Pid, number> = Object.fromEntries(
      _sorted(this.#journal).map(([pid, entries]) => [pid, entries.at(-1)!.seq]),
    );
    return {
      processes: _values(this.#processes),
      grants: _values(this.#grants),
      objects,
      human: _values(this.#human),
      images: _values(this.#images),
      meta: Object.fromEntries(_sorted(this.#meta)),
      auditHead: this.#audit.at(-1)?.record ?? null,
      journalHeads,
    };
  }

  /** Reads a process's journal in seq order. */
  readJournal(pid: Pid, query: JournalQuery = {}): Promise<JournalEntry[]> {
    return this.#read(() => {
      const afterSeq = queryAfterSeq(query.afterSeq);
      const limit = queryLimit(query.limit, Infinity);
      const entries = this.#journal.get(pid) ?? [];
      const start = _firstAbove(entries, afterSeq, (e) => e.seq);
      return entries.slice(start, start + limit);
    });
  }

  /** Reads audit records in seq order, filtered by pid and action. */
  readAudit(query: AuditQuery = {}): Promise<StoredAudit[]> {
    return this.#read(() => {
      const afterSeq = queryAfterSeq(query.afterSeq);
      const limit = queryLimit(query.limit, 1000);
      const out: StoredAudit[] = [];
      const start = _firstAbove(this.#audit, afterSeq, (a) => a.record.seq);
      for (let i = start; i < this.#audit.length && out.length < limit; i++) {
        const a = this.#audit[i]!;
        if (query.pid !== undefined && a.pid !== query.pid) continue;
        if (query.action !== undefined && a.action !== query.action) continue;
        out.push(a.record);
      }
      return out;
    });
  }

  /** Reads every version of an object (deleted or not), oldest first. */
  readObjectVersions(oid: string): Promise<ObjectRecord[]> {
    return this.#read(() => this.#objects.get(oid)?.versions ?? []);
  }

  /** The newest version of each live object of a namespace, by oid. */
  readObjects(namespace: string): Promise<ObjectRecord[]> {
    return this.#read(() =>
      _sorted(this.#objects).filter(([, o]) => !o.deleted)
        .map(([, o]) => o.versions.at(-1)!).filter((o) => o.namespace === namespace)
    );
  }

  /** Every oid stored in a namespace (deleted or not), sorted. */
  listObjectIds(namespace: string): Promise<string[]> {
    return this.#read(() =>
      _sorted(this.#objects)
        .filter(([, o]) => o.versions.at(-1)?.namespace === namespace)
        .map(([oid]) => oid)
    );
  }

  /** Reads one checkpoint, or null. */
  readCheckpoint(id: string): Promise<CheckpointRecord | null> {
    return this.#read(() => this.#checkpoints.get(id) ?? null);
  }

  /** Checkpoints that include a process, oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    return this.#read(() =>
      [...this.#checkpoints.values()]
        .filter((c) => c.pids.includes(pid))
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
        .map(({ content: _content, ...info }) => info)
    );
  }

  /** Process records, in pid order. */
  readProcesses(query: ProcessQuery = {}): Promise<ProcessRecord[]> {
    return this.#read(() =>
      sortByKey(
        [...this.#processes.values()].filter((p) => matchesProcess(p, query)),
        (p) => p.pid,
      )
    );
  }

  /** Human requests, in id order. */
  readHumanRequests(query: HumanQuery = {}): Promise<HumanRequest[]> {
    return this.#read(() =>
      sortByKey([...this.#human.values()].filter((r) => matchesHuman(r, query)), (r) => r.id)
    );
  }

  /** Grants as stored, in id order. */
  readGrants(query: GrantQuery = {}): Promise<Grant[]> {
    return this.#read(() =>
      sortByKey([...this.#grants.values()].filter((g) => matchesGrant(g, query)), (g) => g.id)
    );
  }

  /** Reads an idempotent command's record, or null. */
  readCommand(id: string): Promise<CommandRecord | null> {
    return this.#read(() => this.#commands.get(id) ?? null);
  }

  /** The oldest unclaimed messages of a channel, in seq order. */
  nextMessages(channel: string, limit: number): Promise<MessageRecord[]> {
    return this.#read(() =>
      [...this.#messages.values()]
        .filter((m) => m.channel === channel && m.claimedBy === null)
        .sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : 1))
        .slice(0, queryLimit(limit, 0))
    );
  }

  /** The message a receive call claimed, or null. */
  claimedMessage(pid: Pid, key: string): Promise<MessageRecord | null> {
    return this.#read(() => {
      for (const m of this.#messages.values()) {
        if (m.claimedBy === pid && m.claimKey === key) return m;
      }
      return null;
    });
  }

  /** Releases the store. Idempotent. */
  close(): Promise<void> {
    this.#state = "closed";
    return Promise.resolve();
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Applies one mutation, pushing what undoes it onto `undo`. */
  #run(m: Mutation, undo: (() => void)[]): void {
    switch (m.kind) {
      case "process.put":
        _put(this.#processes, mutationKey(m.process.pid, m.kind, "pid"), m.process, undo);
        return;
      case "grant.put":
        _put(this.#grants, mutationKey(m.grant.id, m.kind, "id"), m.grant, undo);
        return;
      case "object.put":
        this.#putObject(m.object, undo);
        return;
      case "object.redact": {
        const o = m.object;
        const oid = mutationKey(o.oid, m.kind, "oid");
        const version = mutationSeq(o.version, m.kind, "version");
        const versions = this.#objects.get(oid)?.versions ?? [];
        const at = _firstAbove(versions, version - 1, (v) => v.version);
        if (versions[at]?.version !== version) {
          throw libosError(
            "ENOENT",
            `Cannot redact object '${oid}': it has no version ${version}`,
          );
        }
        const was = versions[at]!;
        versions[at] = o;
        undo.push(() => versions[at] = was);
        return;
      }
      case "object.delete": {
        const object = this.#objects.get(mutationKey(m.oid, m.kind, "oid"));
        if (object === undefined) {
          throw libosError("ENOENT", `Cannot delete object '${m.oid}': no such object`);
        }
        const was = object.deleted;
        object.deleted = true;
        undo.push(() => object.deleted = was);
        return;
      }
      case "journal.append":
        this.#appendJournal(m.entry, undo);
        return;
      case "journal.redact": {
        const pid = mutationKey(m.entry.pid, m.kind, "pid");
        const seq = mutationSeq(m.entry.seq, m.kind, "seq");
        const entries = this.#journal.get(pid) ?? [];
        const at = _firstAbove(entries, seq - 1, (x) => x.seq);
        if (entries[at]?.seq !== seq) {
          throw libosError("ENOENT", `Cannot redact journal entry '${pid}#${seq}': no such entry`, {
            pid,
          });
        }
        const was = entries[at]!;
        entries[at] = m.entry;
        undo.push(() => entries[at] = was);
        return;
      }
      case "audit.append":
        this.#appendAudit(m.record, undo);
        return;
      case "human.put":
        mutationKey(m.request.pid, m.kind, "pid");
        _put(this.#human, mutationKey(m.request.id, m.kind, "id"), m.request, undo);
        return;
      case "image.put":
        _put(this.#images, mutationKey(m.image.id, m.kind, "id"), m.image, undo);
        return;
      case "checkpoint.put": {
        const id = mutationKey(m.checkpoint.id, m.kind, "id");
        mutationKey(m.checkpoint.pid, m.kind, "pid");
        if (this.#checkpoints.has(id)) {
          throw libosError("EEXIST", `Cannot put checkpoint '${id}': it exists already`);
        }
        _put(this.#checkpoints, id, m.checkpoint, undo);
        return;
      }
      case "command.put":
        mutationSeq(m.command.expiresAt, m.kind, "expiresAt");
        _put(this.#commands, mutationKey(m.command.id, m.kind, "id"), m.command, undo);
        return;
      case "command.purge": {
        mutationSeq(m.before, m.kind, "before");
        for (const [id, command] of this.#commands) {
          if (command.expiresAt <= m.before) {
            this.#commands.delete(id);
            undo.push(() => this.#commands.set(id, command));
          }
        }
        return;
      }
      case "message.put": {
        const id = mutationKey(m.message.id, m.kind, "id");
        mutationSeq(m.message.seq, m.kind, "seq");
        mutationKey(m.message.channel, m.kind, "channel");
        if (this.#messages.has(id)) {
          throw libosError("EEXIST", `Cannot put message '${id}': it exists already`);
        }
        _put(this.#messages, id, m.message, undo);
        return;
      }
      case "message.claim": {
        const id = mutationKey(m.id, m.kind, "id");
        const pid = mutationKey(m.pid, m.kind, "pid");
        const key = mutationKey(m.key, m.kind, "key");
        mutationSeq(m.at, m.kind, "at");
        const message = this.#messages.get(id);
        if (message === undefined) throw claimError(id, null);
        if (message.claimedBy === pid && message.claimKey === key) return;
        if (message.claimedBy !== null) throw claimError(id, message);
        for (const other of this.#messages.values()) {
          if (other.claimedBy === pid && other.claimKey === key) {
            throw libosError(
              "EEXIST",
              `Cannot claim message '${id}': receive ${key} of process ${pid} claimed '${other.id}' already`,
            );
          }
        }
        _put(
          this.#messages,
          id,
          { ...message, claimedBy: pid, claimKey: key, claimedAt: m.at },
          undo,
        );
        return;
      }
      case "meta.put":
        if (m.value === undefined) {
          throw libosError("EINVAL", `Cannot apply '${m.kind}': the value has no JSON encoding`);
        }
        _put(this.#meta, mutationKey(m.key, m.kind, "key"), m.value, undo);
        return;
      default: {
        const kind = (m as { kind?: unknown }).kind;
        throw libosError("EINVAL", `Cannot apply mutation '${String(kind)}': unknown kind`);
      }
    }
  }

  #putObject(o: ObjectRecord, undo: (() => void)[]): void {
    const oid = mutationKey(o.oid, "object.put", "oid");
    mutationKey(o.namespace, "object.put", "namespace");
    mutationKey(o.name, "object.put", "name");
    mutationSeq(o.version, "object.put", "version");
    let object = this.#objects.get(oid);
    if (object === undefined) {
      object = { versions: [], deleted: false };
      this.#objects.set(oid, object);
      undo.push(() => this.#objects.delete(oid));
    }
    const at = _firstAbove(object.versions, o.version - 1, (v) => v.version);
    if (object.versions[at]?.version === o.version) {
      throw libosError("EEXIST", `Cannot put object '${oid}': version ${o.version} exists already`);
    }
    const versions = object.versions;
    const wasDeleted = object.deleted;
    // A version above the head becomes the head and revives a deleted object.
    if (at === versions.length) object.deleted = false;
    versions.splice(at, 0, o);
    const target = object;
    undo.push(() => {
      versions.splice(at, 1);
      target.deleted = wasDeleted;
    });
  }

  #appendJournal(e: JournalEntry, undo: (() => void)[]): void {
    const pid = mutationKey(e.pid, "journal.append", "pid");
    mutationSeq(e.seq, "journal.append", "seq");
    let entries = this.#journal.get(pid);
    if (entries === undefined) {
      entries = [];
      this.#journal.set(pid, entries);
      undo.push(() => this.#journal.delete(pid));
    }
    const at = _firstAbove(entries, e.seq - 1, (x) => x.seq);
    if (entries[at]?.seq === e.seq) {
      throw libosError(
        "EEXIST",
        `Cannot append journal entry '${pid}#${e.seq}': that seq exists already`,
        { pid },
      );
    }
    entries.splice(at, 0, e);
    const list = entries;
    undo.push(() => list.splice(at, 1));
  }

  #appendAudit(r: StoredAudit, undo: (() => void)[]): void {
    mutationSeq(r.seq, "audit.append", "seq");
    mutationKey(r.hash, "audit.append", "hash");
    const keys = auditKeys(r);
    const at = _firstAbove(this.#audit, r.seq - 1, (a) => a.record.seq);
    if (this.#audit[at]?.record.seq === r.seq) {
      throw libosError("EEXIST", `Cannot append audit record '${r.seq}': that seq exists already`);
    }
    this.#audit.splice(at, 0, { record: r, ...keys });
    undo.push(() => this.#audit.splice(at, 1));
  }

  #read<T>(read: () => T): Promise<T> {
    try {
      this.#assertOpen("read");
      return Promise.resolve(structuredClone(read()));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #assertOpen(verb: string): void {
    if (this.#state === "closed") {
      throw libosError("ESTATE", `Cannot ${verb} store 'memory': the store is closed`);
    }
  }
}

function _clone(batch: readonly Mutation[]): Mutation[] {
  try {
    return structuredClone(batch) as Mutation[];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw libosError("EINVAL", `Cannot apply a batch: ${message}`, {}, error);
  }
}

function _put<T>(map: Map<string, T>, key: string, value: T, undo: (() => void)[]): void {
  const had = map.has(key);
  const was = map.get(key);
  map.set(key, value);
  undo.push(() => had ? map.set(key, was as T) : map.delete(key));
}

/** Map entries ordered by key, like the SQL stores' `ORDER BY`. */
function _sorted<T>(map: Map<string, T>): [string, T][] {
  return [...map].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

function _values<T>(map: Map<string, T>): T[] {
  return _sorted(map).map(([, value]) => value);
}

/** Index of the first item whose key is greater than `after` (binary search). */
function _firstAbove<T>(items: readonly T[], after: number, key: (item: T) => number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid]!) > after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
