/**
 * The store: the kernel's durable memory. The kernel keeps live state in
 * memory and writes every change as a batch of mutations; a batch is durable
 * when `apply` resolves. Implementations group the batches that arrive
 * together into one transaction (group commit), in arrival order, so a batch
 * that is durable implies every earlier batch is too. `apply` takes its
 * snapshot of the records synchronously, before it returns its promise, so
 * callers may go on changing the objects they passed.
 *
 * @module
 */
import type {
  CheckpointInfo,
  CheckpointRecord,
  CommandRecord,
  Grant,
  HumanRequest,
  HumanState,
  ImageRecord,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
  ProcessState,
  StoredAudit,
} from "../types.ts";

/** One change to durable state. */
export type Mutation =
  | { kind: "process.put"; process: ProcessRecord }
  | { kind: "grant.put"; grant: Grant }
  /** Appends a version; the object's latest version is the highest. */
  | { kind: "object.put"; object: ObjectRecord }
  | { kind: "object.delete"; oid: string }
  /**
   * Replaces an existing version in place (its body purged, for retention);
   * the head, deletion and other versions are unchanged. A missing version is
   * ENOENT.
   */
  | { kind: "object.redact"; object: ObjectRecord }
  | { kind: "journal.append"; entry: JournalEntry }
  /**
   * Replaces an existing journal entry in place (its body purged, for
   * retention). A missing entry is ENOENT.
   */
  | { kind: "journal.redact"; entry: JournalEntry }
  | { kind: "audit.append"; record: StoredAudit }
  | { kind: "human.put"; request: HumanRequest }
  | { kind: "image.put"; image: ImageRecord }
  | { kind: "meta.put"; key: string; value: unknown }
  /** Stores a checkpoint (checkpoints are immutable: an existing id is EEXIST). */
  | { kind: "checkpoint.put"; checkpoint: CheckpointRecord }
  /** Puts an idempotent command's record (by id; a later put replaces it). */
  | { kind: "command.put"; command: CommandRecord }
  /** Forgets every command record that expired at or before `before`. */
  | { kind: "command.purge"; before: number }
  /** Stores a mailbox message (messages are immutable: an existing id is EEXIST). */
  | { kind: "message.put"; message: MessageRecord }
  /**
   * Claims a message for one receive call (`pid`, `key`): the batch fails
   * with EBUSY when another call claimed it already, ENOENT when there is no
   * such message; a claim by the same call again changes nothing.
   */
  | { kind: "message.claim"; id: string; pid: Pid; key: string; at: number };

/** Everything the kernel loads at boot. */
export interface StoreSnapshot {
  processes: ProcessRecord[];
  grants: Grant[];
  /** The latest version of every live (not deleted) object. */
  objects: ObjectRecord[];
  human: HumanRequest[];
  images: ImageRecord[];
  meta: Record<string, unknown>;
  /** The last audit record, or null for an empty log. */
  auditHead: StoredAudit | null;
  /** The last journal seq of every process that has entries. */
  journalHeads: Record<Pid, number>;
}

/** Options of {@linkcode Store.readJournal}. */
export interface JournalQuery {
  /** Entries with seq greater than this (default 0). */
  afterSeq?: number;
  /** At most this many (default: all). */
  limit?: number;
}

/** Options of {@linkcode Store.readAudit}. */
export interface AuditQuery {
  pid?: Pid;
  action?: string;
  /** Records with seq greater than this (default 0). */
  afterSeq?: number;
  /** At most this many (default 1000). */
  limit?: number;
}

/**
 * A kernel's fence: its id and the epoch of its lease. A write that carries it
 * lands only while that kernel is alive at that epoch (docs/cluster.md).
 */
export interface Fence {
  kernel: string;
  epoch: number;
}

/** Options of {@linkcode Store.apply}. */
export interface ApplyOptions {
  /**
   * The writing kernel's fence (default none: an unconditional write, for
   * tools that own the store alone). With it the whole batch is refused with
   * `EFENCED` unless that kernel is alive at that epoch and every process it
   * puts is new or its own; the processes it puts become its own.
   */
  fence?: Fence;
  /**
   * The caller does not wait for this batch (default false): a store that
   * commits in groups may keep it for the next group that is waited for, a
   * few milliseconds at most. Batches still land in the order they were
   * handed over.
   */
  behind?: boolean;
}

/** Options of {@linkcode Store.load}. */
export interface LoadOptions {
  /**
   * Only the processes this kernel owns, and the human requests of those
   * (default: every process). Stores that hold one kernel at a time ignore it.
   */
  owner?: string;
  /**
   * Only these processes, their grants (by subject) and human requests, and
   * their journal heads (what an adopting kernel loads).
   */
  pids?: readonly Pid[];
}

/** Options of {@linkcode Store.reserveIds}. */
export interface ReserveIdsOptions {
  /** The counter is first raised to at least this (ids written before it existed). */
  atLeast?: number;
  /**
   * Set the counter to exactly `atLeast` first, voiding blocks reserved
   * before (default false): for a store held by one kernel at a time, whose
   * new kernel knows every id its predecessor made durable.
   */
  reset?: boolean;
}

/** What a kernel tells the registry about itself when it boots. */
export interface KernelRegistration {
  /** The host it runs on. */
  host: string;
  /** Its OS process id. */
  pid: number;
  /** Its lease: it is presumed dead when it has not heartbeaten for this long. */
  ttlMs: number;
}

/** The state of a kernel in the registry. */
export type KernelState = "alive" | "dead" | "stopped";

/** One kernel of the registry, its lease and its load. */
export interface KernelInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
  ttlMs: number;
  epoch: number;
  state: KernelState;
  /** When its lease expires (heartbeatAt + ttlMs), in the store's clock. */
  leaseExpiresAt: number;
  /** The processes it owns that have not ended. */
  liveProcesses: number;
  /** Every process it owns, ended ones too. */
  processes: number;
}

/** The registry as the store sees it now. */
export interface ClusterView {
  /** The store's clock (ms since the epoch): what leases are compared with. */
  now: number;
  kernels: KernelInfo[];
}

/** Options of {@linkcode Store.readProcesses} (every given field must match). */
export interface ProcessQuery {
  pids?: readonly Pid[];
  state?: ProcessState;
  parent?: Pid;
}

/** Options of {@linkcode Store.readHumanRequests} (every given field must match). */
export interface HumanQuery {
  ids?: readonly string[];
  state?: HumanState;
  pid?: Pid;
}

/**
 * A command one kernel's API forwards to the kernel that owns its target
 * (docs/cluster.md "Across kernels"): a signal, a human decision.
 */
export interface ForwardedCommand {
  id: string;
  /**
   * The kernel meant to apply it (a spawn placed on it), or null: whichever
   * kernel owns `pid` when it looks (an adopter too).
   */
  owner: string | null;
  /** The process it concerns, if any. */
  pid: Pid | null;
  kind: string;
  payload: unknown;
  /**
   * `pending`, then `taken` by the kernel that applies it (so it is applied
   * once), then `done` with its result; `expired` by its sender when it
   * timed out before anyone took it (then no one applies it). A command
   * taken by a kernel that died before answering is `done` with an error
   * ({@linkcode ForwardQueue.failOrphans}).
   */
  state: "pending" | "taken" | "done" | "expired";
  /** The owner's answer, once done. */
  result: unknown;
  createdAt: number;
  /** The kernel that took it, once taken. */
  takenBy?: string | null;
  /** When it became done or expired (ms since the epoch), else null. */
  doneAt?: number | null;
}

/** The queue of forwarded commands of a shared store. */
export interface ForwardQueue {
  /** Queues a pending command. */
  put(command: ForwardedCommand): Promise<void>;
  /**
   * Pending commands for `kernel`: addressed to it, or about a process it
   * owns now (it adopted it), oldest first, at most `limit`.
   */
  pendingFor(kernel: string, limit: number): Promise<ForwardedCommand[]>;
  /**
   * Takes a pending command for `kernel` to apply it once (pending →
   * taken); false when it is not pending (expired by its sender, taken or
   * done).
   */
  take(id: string, kernel: string): Promise<boolean>;
  /**
   * Gives up a pending command no one took (pending → expired): no one
   * applies it after; false when it is not pending.
   */
  expire(id: string): Promise<boolean>;
  /** Writes a pending or taken command's result; false when it was done or expired. */
  finish(id: string, result: unknown): Promise<boolean>;
  /** One command, or null. */
  read(id: string): Promise<ForwardedCommand | null>;
  /**
   * Answers `result` for every command taken by a kernel that is no longer
   * alive (it died or stopped before answering), at most `limit`; the ids
   * it answered.
   */
  failOrphans(result: unknown, limit: number): Promise<string[]>;
  /**
   * Deletes the commands done or expired at or before `before` (ms since
   * the epoch), and any created before it that no one answered; how many.
   */
  purge(before: number): Promise<number>;
}

/** Options of {@linkcode Store.readGrants} (every given field must match). */
export interface GrantQuery {
  ids?: readonly string[];
  subject?: Pid;
}

/** A process an adopting kernel claimed. */
export interface ClaimedProcess {
  pid: Pid;
  /** The kernel that owned it (null: none recorded). */
  from: string | null;
  /** Whether that kernel stopped cleanly (its processes were not interrupted). */
  clean: boolean;
}

/**
 * A store's publish/subscribe channel between kernels (PostgreSQL's
 * LISTEN/NOTIFY on one channel per schema); see runtime/cluster/notifier.ts.
 */
export interface ListenNotify {
  /** The channel's name (`libos.<schema>`). */
  readonly channel: string;
  /** Listens on `channel`; resolves once listening. */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
  ): Promise<{ unlisten(): Promise<void> }>;
  /** Publishes a payload (under 8000 bytes) on `channel`. */
  notify(channel: string, payload: string): Promise<unknown>;
}

/** The durable store of a kernel (SQLite, PostgreSQL, memory). */
export interface Store extends AsyncDisposable {
  /** A short name: "sqlite", "memory", "postgres". */
  readonly kind: string;
  /**
   * Whether several kernels may share the store at once (PostgreSQL). A store
   * that is not shared holds one kernel at a time (the data directory's lock
   * guarantees it): registering a kernel ends the previous one.
   */
  readonly shared: boolean;
  /** A channel between the kernels sharing the store, if it has one (PostgreSQL). */
  readonly listenNotify?: ListenNotify;
  /** Applies a batch atomically; resolves when it is durable. */
  apply(batch: readonly Mutation[], options?: ApplyOptions): Promise<void>;
  /** Loads the state the kernel needs at boot. */
  load(options?: LoadOptions): Promise<StoreSnapshot>;
  /**
   * Reserves `count` consecutive ids of a kind (`pid`, `grant`, `audit`, …)
   * durably, for this caller alone; resolves to the first. No two calls, from
   * any kernel, get the same id.
   */
  reserveIds(kind: string, count: number, options?: ReserveIdsOptions): Promise<number>;
  /**
   * Gives back the ids `from … end - 1` of a block reserved last (a clean
   * shutdown): the counter goes back to `from - 1` unless a later block was
   * reserved since, in which case nothing changes.
   */
  releaseIds(kind: string, from: number, end: number): Promise<void>;
  /** Registers a booting kernel: a new id (`k_N`), epoch 1, alive. */
  registerKernel(registration: KernelRegistration): Promise<Fence>;
  /** Renews a kernel's lease; `EFENCED` when it is no longer alive at that epoch. */
  heartbeat(fence: Fence): Promise<void>;
  /** Marks a kernel stopped (a clean shutdown): its processes may be adopted at once. */
  stopKernel(fence: Fence): Promise<void>;
  /** Every kernel, its lease and its load, with the store's clock. */
  listKernels(): Promise<ClusterView>;
  /**
   * Declares a kernel dead if it is alive at `epoch`, bumping its epoch (its
   * later writes are fenced). False when it was not: another kernel declared
   * it first, or it heartbeat with a new epoch.
   */
  declareDead(id: string, epoch: number): Promise<boolean>;
  /**
   * Claims up to `limit` processes whose owner is dead or stopped (or none)
   * for the kernel `to`, each for exactly one claimer however many race.
   * Stores that are not shared have nothing to claim: the one kernel loads all.
   */
  claimProcesses(to: Fence, options: { limit: number }): Promise<ClaimedProcess[]>;
  /** Process records as stored, in pid order (every kernel's, on a shared store). */
  readProcesses(query?: ProcessQuery): Promise<ProcessRecord[]>;
  /** Human requests as stored, in id order. */
  readHumanRequests(query?: HumanQuery): Promise<HumanRequest[]>;
  /** Grants as stored, in id order (every kernel's, on a shared store). */
  readGrants(query?: GrantQuery): Promise<Grant[]>;
  /** Forwarded commands between kernels (shared stores only). */
  readonly forwarded?: ForwardQueue;
  /**
   * Claims an idempotent command's id for `runner` (a kernel id) before it
   * runs, across the kernels of a shared store: writes `record` as
   * `running` unless a record of the id is there that has not expired and
   * is not the `running` claim of a kernel no longer alive. Null when
   * claimed, else the record in the way. Shared stores only (one kernel
   * needs no claim).
   */
  claimCommand?(record: CommandRecord, runner: string, now: number): Promise<CommandRecord | null>;
  /** Deletes `runner`'s `running` claim of `id`, if it is still that. */
  releaseCommand?(id: string, runner: string): Promise<void>;
  /** Reads a process's journal in seq order. */
  readJournal(pid: Pid, query?: JournalQuery): Promise<JournalEntry[]>;
  /** Reads audit records in seq order. */
  readAudit(query?: AuditQuery): Promise<StoredAudit[]>;
  /** Reads every version of an object, oldest first. */
  readObjectVersions(oid: string): Promise<ObjectRecord[]>;
  /**
   * The newest version of each object of a namespace not deleted, by oid
   * (every kernel's, on a shared store).
   */
  readObjects(namespace: string): Promise<ObjectRecord[]>;
  /**
   * The oid of every object stored in a namespace, deleted ones included,
   * sorted (retention purges them all).
   */
  listObjectIds(namespace: string): Promise<string[]>;
  /** Reads one checkpoint, or null. */
  readCheckpoint(id: string): Promise<CheckpointRecord | null>;
  /** Checkpoints that include a process (as root or member), oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]>;
  /** Reads an idempotent command's record by id, or null (expired ones too, until purged). */
  readCommand(id: string): Promise<CommandRecord | null>;
  /** The oldest unclaimed messages of a channel, in seq order, at most `limit`. */
  nextMessages(channel: string, limit: number): Promise<MessageRecord[]>;
  /** The message a receive call (`pid`, `key`) claimed, or null. */
  claimedMessage(pid: Pid, key: string): Promise<MessageRecord | null>;
  /** Waits for pending batches, then releases the store. Idempotent. */
  close(): Promise<void>;
}
