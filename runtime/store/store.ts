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
  ImageRecord,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
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

/** The durable store of a kernel (SQLite, PostgreSQL, memory). */
export interface Store extends AsyncDisposable {
  /** A short name: "sqlite", "memory", "postgres". */
  readonly kind: string;
  /** Applies a batch atomically; resolves when it is durable. */
  apply(batch: readonly Mutation[]): Promise<void>;
  /** Loads the state the kernel needs at boot. */
  load(): Promise<StoreSnapshot>;
  /** Reads a process's journal in seq order. */
  readJournal(pid: Pid, query?: JournalQuery): Promise<JournalEntry[]>;
  /** Reads audit records in seq order. */
  readAudit(query?: AuditQuery): Promise<StoredAudit[]>;
  /** Reads every version of an object, oldest first. */
  readObjectVersions(oid: string): Promise<ObjectRecord[]>;
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
