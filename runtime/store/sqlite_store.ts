/**
 * The embedded store: SQLite through `node:sqlite`, in WAL mode with
 * `synchronous=FULL`. Batches that arrive together are committed in one
 * transaction (group commit, one fsync) on the next macrotask tick.
 *
 * Records are kept as JSON text bodies next to the few columns that lookups
 * need, so that the SQL stays portable to the PostgreSQL store. Audit records
 * get `pid` and `action` columns extracted from their body at insert time
 * (no `json_extract` expression indexes).
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import { pathToFileURL } from "node:url";
import { LibosError, libosError } from "../errors.ts";
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
  checkReserve,
  matchesGrant,
  matchesHuman,
  matchesProcess,
  narrowSnapshot,
  queryAfterSeq,
  queryLimit,
} from "./store_checks.ts";
import { LocalKernels } from "./local_kernels.ts";
import { claimError, decodeMessage, encodeBatch, type EncodedMutation } from "./store_encoding.ts";
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

/** Options of {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long the store waits to gather batches into one transaction, in
   * milliseconds. Default 0: the next macrotask tick (`setImmediate`; Deno
   * clamps `setTimeout(0)` to about 2 ms, which would cap the commit rate).
   */
  groupCommitMs?: number;
  /** How long a write waits for another connection's lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * Open for reading only (default false): no schema migration, no pragma that
   * writes, no checkpoint; `apply` rejects with `ESTATE` and SQLite refuses
   * any write. The schema must be this code's version (`EINVAL` otherwise).
   * To read a WAL database SQLite needs its `-wal` and `-shm` files and
   * creates them, empty, when they are missing; see `immutable`.
   */
  readOnly?: boolean;
  /**
   * With `readOnly` only (default false): the caller promises that nobody
   * writes the database while this store is open and that it has no `-wal`
   * file (a writer closed it cleanly), for instance because it holds a lock
   * that keeps writers out. SQLite then reads the file without locking and
   * creates no `-wal` or `-shm` file, so the store leaves no trace. This
   * needs SQLite's `file:` URIs, which Deno's `node:sqlite` takes only in a
   * process with every permission (`deno run -A`); elsewhere the store falls
   * back to a plain read-only open.
   */
  immutable?: boolean;
}

/** Counters of a {@linkcode SqliteStore}, for tests and benchmarks. */
export interface SqliteStoreStats {
  /** Batches accepted by `apply`. */
  batches: number;
  /** Group flushes (each starts with one transaction). */
  flushes: number;
  /** Write transactions begun, including the one-by-one retries of a failed flush. */
  transactions: number;
}

/** The connection settings of a {@linkcode SqliteStore}, as SQLite reports them. */
export interface SqliteStorePragmas {
  /** "wal" for a file database ("memory" for ":memory:"). */
  journalMode: string;
  /** 2 is FULL: every commit is fsynced. */
  synchronous: number;
  foreignKeys: boolean;
  busyTimeoutMs: number;
  /** Whether freed space is overwritten with zeros (on for a writable store). */
  secureDelete: boolean;
}

/** One step of the schema: applied once, in its own transaction. */
interface _Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

/**
 * The schema, oldest first; step `i` has version `i + 1`. Never edit a step
 * that has shipped: append a new one.
 */
const _MIGRATIONS: readonly _Migration[] = [
  {
    version: 1,
    description: "initial schema",
    statements: [
      `CREATE TABLE processes (
        pid TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        parent_pid TEXT,
        body TEXT NOT NULL)`,
      "CREATE INDEX processes_parent ON processes (parent_pid)",
      `CREATE TABLE grants (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX grants_subject ON grants (subject)",
      `CREATE TABLE object_versions (
        oid TEXT NOT NULL,
        version BIGINT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (oid, version))`,
      // The latest version of every object, and whether it is deleted.
      `CREATE TABLE objects (
        oid TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0)`,
      "CREATE INDEX objects_name ON objects (namespace, name)",
      `CREATE TABLE journal (
        pid TEXT NOT NULL,
        seq BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (pid, seq))`,
      // INTEGER PRIMARY KEY is SQLite's rowid (64-bit); PostgreSQL uses BIGINT.
      `CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        pid TEXT,
        action TEXT,
        body TEXT NOT NULL,
        hash TEXT NOT NULL)`,
      "CREATE INDEX audit_pid ON audit (pid, seq)",
      "CREATE INDEX audit_action ON audit (action, seq)",
      `CREATE TABLE human (
        id TEXT PRIMARY KEY,
        pid TEXT NOT NULL,
        state TEXT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX human_state ON human (state)",
      `CREATE TABLE images (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL)`,
      `CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)`,
    ],
  },
  {
    version: 2,
    description: "checkpoints",
    statements: [
      `CREATE TABLE checkpoints (
        id TEXT PRIMARY KEY,
        pid TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        info TEXT NOT NULL,
        body TEXT NOT NULL)`,
      // One row per member, so a subtree checkpoint is found from any member.
      `CREATE TABLE checkpoint_members (
        id TEXT NOT NULL,
        pid TEXT NOT NULL,
        PRIMARY KEY (pid, id))`,
    ],
  },
  {
    version: 3,
    description: "idempotent commands",
    statements: [
      `CREATE TABLE commands (
        id TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL)`,
      "CREATE INDEX commands_expiry ON commands (expires_at)",
    ],
  },
  {
    version: 4,
    description: "mailbox messages",
    statements: [
      // The claim lives in its columns (the body is the record without it).
      `CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        channel TEXT NOT NULL,
        sender TEXT,
        sent_at BIGINT NOT NULL,
        claimed_by TEXT,
        claim_key TEXT,
        claimed_at BIGINT,
        body TEXT NOT NULL)`,
      "CREATE INDEX messages_unclaimed ON messages (channel, seq) WHERE claimed_by IS NULL",
      // One message per receive call.
      `CREATE UNIQUE INDEX messages_claim ON messages (claimed_by, claim_key)
        WHERE claimed_by IS NOT NULL`,
    ],
  },
  {
    version: 5,
    description: "store-allocated ids",
    // The kernel registry of a store that holds one kernel at a time lives
    // in memory (local_kernels.ts); PostgreSQL's step 5 adds it as tables.
    statements: [
      `CREATE TABLE ids (
        kind TEXT PRIMARY KEY,
        last INTEGER NOT NULL)`,
    ],
  },
];

/** The schema version this code writes. */
export const SQLITE_SCHEMA_VERSION: number = _MIGRATIONS.length;

/** A batch waiting for the next group commit. */
interface _Pending {
  ops: EncodedMutation[];
  fence: Fence | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

type _Statements = ReturnType<typeof _prepare>;

/** The SQLite implementation of {@linkcode Store}. */
export class SqliteStore implements Store {
  /** Always "sqlite". */
  readonly kind = "sqlite";
  /** One kernel at a time: the data directory's lock. */
  readonly shared = false;
  /** The database path (":memory:" for an in-memory database). */
  readonly path: string;

  #db: DatabaseSync;
  #s: _Statements;
  #state: "open" | "closed" = "open";
  #access: "read-write" | "read-only";
  #groupCommitMs: number;
  #queue: _Pending[] = [];
  #cancelTimer: (() => void) | null = null;
  #stats: SqliteStoreStats = { batches: 0, flushes: 0, transactions: 0 };
  #kernels = new LocalKernels();

  private constructor(
    db: DatabaseSync,
    path: string,
    options: { groupCommitMs: number; access: "read-write" | "read-only" },
  ) {
    this.#db = db;
    this.path = path;
    this.#access = options.access;
    this.#groupCommitMs = options.groupCommitMs;
    this.#s = _prepare(db);
  }

  /**
   * Opens (creating if needed) the database at `path` and brings its schema
   * up to date. Fails with `EINVAL` when the database was written by newer
   * code (a schema version this code does not know). With `options.readOnly`
   * it neither creates nor migrates anything (see {@linkcode SqliteStoreOptions}).
   */
  static open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const groupCommitMs = options.groupCommitMs ?? 0;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!(groupCommitMs >= 0 && Number.isFinite(groupCommitMs))) {
      return Promise.reject(new RangeError(`groupCommitMs must be >= 0, got ${groupCommitMs}`));
    }
    if (!(Number.isSafeInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
      return Promise.reject(new RangeError(`busyTimeoutMs must be an integer >= 0`));
    }
    const readOnly = options.readOnly ?? false;
    const immutable = options.immutable ?? false;
    if (immutable && !readOnly) {
      return Promise.reject(new TypeError("Cannot open a store immutable: it needs readOnly"));
    }
    let db: DatabaseSync;
    try {
      db = readOnly ? _openReadOnly(path, immutable) : new DatabaseSync(path);
    } catch (error) {
      return Promise.reject(
        libosError("EINVAL", `Cannot open store '${path}': ${_message(error)}`, { path }, error),
      );
    }
    try {
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      db.exec("PRAGMA foreign_keys = ON");
      if (readOnly) {
        // Connection settings only: neither pragma writes to the database.
        db.exec("PRAGMA query_only = ON");
        _checkSchema(db, path);
      } else {
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = FULL");
        // A row rewritten or deleted (a purged body) leaves zeros, not its old
        // text, in the database file's free space; see README "Retention".
        db.exec("PRAGMA secure_delete = ON");
        _migrate(db, path);
      }
      return Promise.resolve(
        new SqliteStore(db, path, {
          groupCommitMs,
          access: readOnly ? "read-only" : "read-write",
        }),
      );
    } catch (error) {
      db.close();
      return Promise.reject(error);
    }
  }

  /** Counters since open (a copy). */
  get stats(): SqliteStoreStats {
    return { ...this.#stats };
  }

  /**
   * Queues a batch for the next group commit; resolves when the transaction
   * holding it is durable. The records are encoded now, so a caller may
   * change its objects as soon as `apply` returns.
   */
  apply(batch: readonly Mutation[], options: ApplyOptions = {}): Promise<void> {
    let ops: EncodedMutation[];
    try {
      ops = encodeBatch({
        location: this.path,
        closed: this.#state === "closed",
        readOnly: this.#access === "read-only",
      }, batch);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stats.batches++;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, fence: options.fence, resolve, reject });
      this.#schedule();
    });
  }

  /** Reserves a block of ids in its own transaction. */
  reserveIds(kind: string, count: number, options: ReserveIdsOptions = {}): Promise<number> {
    return this.#write("reserve ids in", () => {
      checkReserve(kind, count, options.atLeast);
      const row = this.#db.prepare("SELECT last FROM ids WHERE kind = ?").get(kind);
      const last = options.reset === true
        ? options.atLeast ?? 0
        : Math.max(Number(row?.last ?? 0), options.atLeast ?? 0);
      this.#db.prepare(
        `INSERT INTO ids (kind, last) VALUES (?, ?)
         ON CONFLICT (kind) DO UPDATE SET last = excluded.last`,
      ).run(kind, last + count);
      return last + 1;
    });
  }

  /** Gives back the tail of the last block. */
  releaseIds(kind: string, from: number, end: number): Promise<void> {
    return this.#write("release ids in", () => {
      this.#db.prepare("UPDATE ids SET last = ? WHERE kind = ? AND last = ?")
        .run(from - 1, kind, end - 1);
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
      const row = this.#db.prepare(
        `SELECT count(*) AS all_, sum(state NOT IN ('exited', 'failed', 'killed')) AS live
         FROM processes`,
      ).get();
      return this.#kernels.view(Date.now(), {
        live: Number(row?.live ?? 0),
        all: Number(row?.all_ ?? 0),
      });
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

  /** Runs a small write transaction of its own (synchronously: no batch is half-written). */
  #write<T>(verb: string, write: () => T): Promise<T> {
    try {
      this.#assertOpen(verb);
      if (this.#access === "read-only") {
        throw libosError(
          "ESTATE",
          `Cannot ${verb} store '${this.path}': the store is open read-only`,
        );
      }
      this.#s.begin.run();
      try {
        const result = write();
        this.#s.commit.run();
        return Promise.resolve(result);
      } catch (error) {
        if (this.#db.isTransaction) this.#s.rollback.run();
        throw error;
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Loads the state the kernel needs at boot (every batch whose apply resolved). */
  load(options: LoadOptions = {}): Promise<StoreSnapshot> {
    return this.#read(() => narrowSnapshot(this.#loadAll(), options));
  }

  #loadAll(): StoreSnapshot {
    const s = this.#s;
    const auditRow = s.auditHead.get();
    const snapshot: StoreSnapshot = {
      processes: _bodies<ProcessRecord>(s.loadProcesses.all()),
      grants: _bodies<Grant>(s.loadGrants.all()),
      objects: _bodies<ObjectRecord>(s.loadObjects.all()),
      human: _bodies<HumanRequest>(s.loadHuman.all()),
      images: _bodies<ImageRecord>(s.loadImages.all()),
      meta: Object.fromEntries(
        s.loadMeta.all().map((row) => [String(row.key), JSON.parse(String(row.value))]),
      ),
      auditHead: auditRow === undefined ? null : _audit(auditRow),
      journalHeads: Object.fromEntries(
        s.journalHeads.all().map((row) => [String(row.pid), Number(row.seq)]),
      ),
    };
    return snapshot;
  }

  /** Reads a process's journal in seq order. */
  readJournal(pid: Pid, query: JournalQuery = {}): Promise<JournalEntry[]> {
    return this.#read(() => {
      const afterSeq = queryAfterSeq(query.afterSeq);
      const limit = queryLimit(query.limit, -1);
      return _bodies<JournalEntry>(this.#s.readJournal.all(pid, afterSeq, limit));
    });
  }

  /** Reads audit records in seq order, filtered by pid and action. */
  readAudit(query: AuditQuery = {}): Promise<StoredAudit[]> {
    return this.#read(() => {
      const afterSeq = queryAfterSeq(query.afterSeq);
      const limit = queryLimit(query.limit, 1000);
      const s = this.#s;
      let rows;
      if (query.pid !== undefined && query.action !== undefined) {
        rows = s.readAuditByPidAction.all(query.pid, query.action, afterSeq, limit);
      } else if (query.pid !== undefined) {
        rows = s.readAuditByPid.all(query.pid, afterSeq, limit);
      } else if (query.action !== undefined) {
        rows = s.readAuditByAction.all(query.action, afterSeq, limit);
      } else {
        rows = s.readAudit.all(afterSeq, limit);
      }
      return rows.map(_audit);
    });
  }

  /** Reads every version of an object (deleted or not), oldest first. */
  readObjectVersions(oid: string): Promise<ObjectRecord[]> {
    return this.#read(() => _bodies<ObjectRecord>(this.#s.readObjectVersions.all(oid)));
  }

  /** The newest version of each live object of a namespace, by oid. */
  readObjects(namespace: string): Promise<ObjectRecord[]> {
    return this.#read(() => _bodies<ObjectRecord>(this.#s.readObjects.all(namespace)));
  }

  /** Every oid stored in a namespace (deleted or not), sorted. */
  listObjectIds(namespace: string): Promise<string[]> {
    return this.#read(() => this.#s.listObjectIds.all(namespace).map((row) => String(row.oid)));
  }

  /** Reads one checkpoint, or null. */
  readCheckpoint(id: string): Promise<CheckpointRecord | null> {
    return this.#read(() => {
      const row = this.#s.readCheckpoint.get(id);
      return row === undefined ? null : JSON.parse(String(row.body)) as CheckpointRecord;
    });
  }

  /** Checkpoints that include a process, oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    return this.#read(() => _bodies<CheckpointInfo>(this.#s.listCheckpoints.all(pid)));
  }

  /** Process records, in pid order. */
  readProcesses(query: ProcessQuery = {}): Promise<ProcessRecord[]> {
    return this.#read(() => {
      const [where, args] = _where([
        ["state = ?", query.state],
        ["parent_pid = ?", query.parent],
      ]);
      return _bodies<ProcessRecord>(
        this.#db.prepare(`SELECT body FROM processes ${where} ORDER BY pid`).all(...args),
      ).filter((p) => matchesProcess(p, query));
    });
  }

  /** Human requests, in id order. */
  readHumanRequests(query: HumanQuery = {}): Promise<HumanRequest[]> {
    return this.#read(() => {
      const [where, args] = _where([["state = ?", query.state], ["pid = ?", query.pid]]);
      return _bodies<HumanRequest>(
        this.#db.prepare(`SELECT body FROM human ${where} ORDER BY id`).all(...args),
      ).filter((r) => matchesHuman(r, query));
    });
  }

  /** Grants as stored, in id order. */
  readGrants(query: GrantQuery = {}): Promise<Grant[]> {
    return this.#read(() => {
      const [where, args] = _where([["subject = ?", query.subject]]);
      return _bodies<Grant>(
        this.#db.prepare(`SELECT body FROM grants ${where} ORDER BY id`).all(...args),
      ).filter((g) => matchesGrant(g, query));
    });
  }

  /** Reads an idempotent command's record, or null. */
  readCommand(id: string): Promise<CommandRecord | null> {
    return this.#read(() => {
      const row = this.#s.readCommand.get(id);
      return row === undefined ? null : JSON.parse(String(row.body)) as CommandRecord;
    });
  }

  /** The oldest unclaimed messages of a channel, in seq order. */
  nextMessages(channel: string, limit: number): Promise<MessageRecord[]> {
    return this.#read(() =>
      this.#s.nextMessages.all(channel, queryLimit(limit, 0)).map((row) => decodeMessage(row))
    );
  }

  /** The message a receive call claimed, or null. */
  claimedMessage(pid: Pid, key: string): Promise<MessageRecord | null> {
    return this.#read(() => {
      const row = this.#s.claimedMessage.get(pid, key);
      return row === undefined ? null : decodeMessage(row);
    });
  }

  /** Reads the connection's settings back from SQLite. */
  pragmas(): SqliteStorePragmas {
    this.#assertOpen("inspect");
    const read = (name: string) => Object.values(this.#db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    return {
      journalMode: String(read("journal_mode")),
      synchronous: Number(read("synchronous")),
      foreignKeys: Number(read("foreign_keys")) === 1,
      busyTimeoutMs: Number(read("busy_timeout")),
      secureDelete: Number(read("secure_delete")) === 1,
    };
  }

  /** Runs `PRAGMA integrity_check`; "ok" when the database is sound. */
  integrityCheck(): string {
    this.#assertOpen("check");
    const rows = this.#db.prepare("PRAGMA integrity_check").all();
    return rows.map((row) => String(Object.values(row)[0])).join("\n");
  }

  /** Commits pending batches, then closes the database. Idempotent. */
  close(): Promise<void> {
    if (this.#state === "closed") return Promise.resolve();
    this.#state = "closed";
    try {
      this.#flush();
    } finally {
      this.#db.close();
    }
    return Promise.resolve();
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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

  /**
   * Commits every queued batch in one transaction, in arrival order. When
   * that fails, retries them one by one so that only a bad batch rejects.
   */
  #flush(): void {
    if (this.#cancelTimer !== null) {
      this.#cancelTimer();
      this.#cancelTimer = null;
    }
    const pending = this.#queue;
    if (pending.length === 0) return;
    this.#queue = [];
    this.#stats.flushes++;
    const error = this.#transact(pending);
    if (error === null) {
      for (const p of pending) p.resolve();
      return;
    }
    if (pending.length === 1) {
      pending[0]!.reject(error);
      return;
    }
    for (const p of pending) {
      const single = this.#transact([p]);
      if (single === null) p.resolve();
      else p.reject(single);
    }
  }

  /** Runs one write transaction; returns the error that rolled it back, or null. */
  #transact(batches: readonly _Pending[]): unknown {
    const s = this.#s;
    this.#stats.transactions++;
    try {
      s.begin.run();
      for (const batch of batches) {
        if (batch.fence !== undefined) this.#kernels.check(batch.fence);
        for (const op of batch.ops) this.#run(op);
      }
      s.commit.run();
      return null;
    } catch (error) {
      try {
        if (this.#db.isTransaction) s.rollback.run();
      } catch {
        // SQLite has rolled back already (for instance after an I/O error).
      }
      if (error instanceof LibosError) return error;
      return libosError(
        "EINTERNAL",
        `Cannot commit to store '${this.path}': ${_message(error)}`,
        { path: this.path },
        error,
      );
    }
  }

  #run(op: EncodedMutation): void {
    const s = this.#s;
    switch (op.kind) {
      case "process.put":
        s.putProcess.run(op.pid, op.state, op.parentPid, op.body);
        return;
      case "grant.put":
        s.putGrant.run(op.id, op.subject, op.body);
        return;
      case "object.put":
        _insert(
          s.insertObjectVersion,
          [op.oid, op.version, op.namespace, op.name, op.body],
          () => `Cannot put object '${op.oid}': version ${op.version} exists already`,
        );
        s.putObjectHead.run(op.oid, op.version, op.namespace, op.name);
        return;
      case "object.delete":
        if (s.deleteObject.run(op.oid).changes === 0) {
          throw libosError("ENOENT", `Cannot delete object '${op.oid}': no such object`);
        }
        return;
      case "object.redact":
        if (s.redactObjectVersion.run(op.body, op.oid, op.version).changes === 0) {
          throw libosError(
            "ENOENT",
            `Cannot redact object '${op.oid}': it has no version ${op.version}`,
          );
        }
        return;
      case "journal.redact":
        if (s.redactJournal.run(op.body, op.pid, op.seq).changes === 0) {
          throw libosError(
            "ENOENT",
            `Cannot redact journal entry '${op.pid}#${op.seq}': no such entry`,
            { pid: op.pid },
          );
        }
        return;
      case "journal.append":
        _insert(
          s.appendJournal,
          [op.pid, op.seq, op.body],
          () => `Cannot append journal entry '${op.pid}#${op.seq}': that seq exists already`,
          { pid: op.pid },
        );
        return;
      case "audit.append":
        _insert(
          s.appendAudit,
          [op.seq, op.pid, op.action, op.body, op.hash],
          () => `Cannot append audit record '${op.seq}': that seq exists already`,
        );
        return;
      case "human.put":
        s.putHuman.run(op.id, op.pid, op.state, op.body);
        return;
      case "image.put":
        s.putImage.run(op.id, op.body);
        return;
      case "meta.put":
        s.putMeta.run(op.key, op.value);
        return;
      case "checkpoint.put":
        _insert(
          s.insertCheckpoint,
          [op.id, op.pid, op.createdAt, op.info, op.body],
          () => `Cannot put checkpoint '${op.id}': it exists already`,
        );
        for (const pid of op.pids) s.insertCheckpointMember.run(op.id, pid);
        return;
      case "command.put":
        s.putCommand.run(op.id, op.expiresAt, op.body);
        return;
      case "command.purge":
        s.purgeCommands.run(op.before);
        return;
      case "message.put":
        _insert(
          s.insertMessage,
          [
            op.id,
            op.seq,
            op.channel,
            op.sender,
            op.sentAt,
            op.claimedBy,
            op.claimKey,
            op.claimedAt,
            op.body,
          ],
          () => `Cannot put message '${op.id}': it exists already`,
        );
        return;
      case "message.claim": {
        let changes;
        try {
          changes = s.claimMessage.run(op.pid, op.key, op.at, op.id, op.pid, op.key).changes;
        } catch (error) {
          const code = (error as { errcode?: unknown }).errcode;
          if (typeof code === "number" && (code & 0xff) === 19) {
            throw libosError(
              "EEXIST",
              `Cannot claim message '${op.id}': receive ${op.key} of process ${op.pid} claimed another already`,
              {},
              error,
            );
          }
          throw error;
        }
        if (changes === 0) {
          const row = s.messageClaim.get(op.id);
          throw claimError(
            op.id,
            row === undefined ? null : {
              claimedBy: row.claimed_by === null ? null : String(row.claimed_by),
              claimKey: row.claim_key === null ? null : String(row.claim_key),
            },
          );
        }
        return;
      }
      default:
        op satisfies never;
    }
  }

  #read<T>(read: () => T): Promise<T> {
    try {
      this.#assertOpen("read");
      return Promise.resolve(read());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #assertOpen(verb: string): void {
    if (this.#state === "closed") {
      throw libosError("ESTATE", `Cannot ${verb} store '${this.path}': the store is closed`);
    }
  }
}

/** Prepares every statement once. */
function _prepare(db: DatabaseSync) {
  const p = (sql: string) => db.prepare(sql);
  return {
    begin: p("BEGIN IMMEDIATE"),
    commit: p("COMMIT"),
    rollback: p("ROLLBACK"),
    putProcess: p(
      `INSERT INTO processes (pid, state, parent_pid, body) VALUES (?, ?, ?, ?)
       ON CONFLICT (pid) DO UPDATE SET
         state = excluded.state, parent_pid = excluded.parent_pid, body = excluded.body`,
    ),
    putGrant: p(
      `INSERT INTO grants (id, subject, body) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, body = excluded.body`,
    ),
    insertObjectVersion: p(
      "INSERT INTO object_versions (oid, version, namespace, name, body) VALUES (?, ?, ?, ?, ?)",
    ),
    // The head follows the highest version; a new version revives a deleted object.
    putObjectHead: p(
      `INSERT INTO objects (oid, version, namespace, name, deleted) VALUES (?, ?, ?, ?, 0)
       ON CONFLICT (oid) DO UPDATE SET
         version = excluded.version, namespace = excluded.namespace, name = excluded.name,
         deleted = 0
       WHERE excluded.version > objects.version`,
    ),
    deleteObject: p("UPDATE objects SET deleted = 1 WHERE oid = ?"),
    redactObjectVersion: p("UPDATE object_versions SET body = ? WHERE oid = ? AND version = ?"),
    redactJournal: p("UPDATE journal SET body = ? WHERE pid = ? AND seq = ?"),
    appendJournal: p("INSERT INTO journal (pid, seq, body) VALUES (?, ?, ?)"),
    appendAudit: p("INSERT INTO audit (seq, pid, action, body, hash) VALUES (?, ?, ?, ?, ?)"),
    putHuman: p(
      `INSERT INTO human (id, pid, state, body) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, state = excluded.state, body = excluded.body`,
    ),
    putImage: p(
      `INSERT INTO images (id, body) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
    ),
    putMeta: p(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    loadProcesses: p("SELECT body FROM processes ORDER BY pid"),
    loadGrants: p("SELECT body FROM grants ORDER BY id"),
    loadObjects: p(
      `SELECT v.body FROM objects o
       JOIN object_versions v ON v.oid = o.oid AND v.version = o.version
       WHERE o.deleted = 0 ORDER BY o.oid`,
    ),
    loadHuman: p("SELECT body FROM human ORDER BY id"),
    loadImages: p("SELECT body FROM images ORDER BY id"),
    loadMeta: p("SELECT key, value FROM meta ORDER BY key"),
    auditHead: p("SELECT seq, body, hash FROM audit ORDER BY seq DESC LIMIT 1"),
    // A loose index scan: one index probe per pid instead of a scan of the whole
    // journal (GROUP BY reads every entry; 40x slower at two million entries).
    journalHeads: p(
      `WITH RECURSIVE pids (pid) AS (
         SELECT MIN(pid) FROM journal
         UNION ALL
         SELECT (SELECT MIN(j.pid) FROM journal j WHERE j.pid > pids.pid)
         FROM pids WHERE pids.pid IS NOT NULL)
       SELECT pid, (SELECT MAX(j.seq) FROM journal j WHERE j.pid = pids.pid) AS seq
       FROM pids WHERE pid IS NOT NULL`,
    ),
    readJournal: p(
      "SELECT body FROM journal WHERE pid = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    readAudit: p("SELECT seq, body, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?"),
    readAuditByPid: p(
      "SELECT seq, body, hash FROM audit WHERE pid = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    readAuditByAction: p(
      "SELECT seq, body, hash FROM audit WHERE action = ? AND seq > ? ORDER BY seq LIMIT ?",
    ),
    readAuditByPidAction: p(
      `SELECT seq, body, hash FROM audit
       WHERE pid = ? AND action = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    listObjectIds: p("SELECT oid FROM objects WHERE namespace = ? ORDER BY oid"),
    readObjects: p(
      `SELECT v.body FROM objects o
       JOIN object_versions v ON v.oid = o.oid AND v.version = o.version
       WHERE o.namespace = ? AND o.deleted = 0 ORDER BY o.oid`,
    ),
    readObjectVersions: p("SELECT body FROM object_versions WHERE oid = ? ORDER BY version"),
    insertCheckpoint: p(
      "INSERT INTO checkpoints (id, pid, created_at, info, body) VALUES (?, ?, ?, ?, ?)",
    ),
    insertCheckpointMember: p("INSERT INTO checkpoint_members (id, pid) VALUES (?, ?)"),
    readCheckpoint: p("SELECT body FROM checkpoints WHERE id = ?"),
    putCommand: p(
      `INSERT INTO commands (id, expires_at, body) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body`,
    ),
    purgeCommands: p("DELETE FROM commands WHERE expires_at <= ?"),
    readCommand: p("SELECT body FROM commands WHERE id = ?"),
    insertMessage: p(
      `INSERT INTO messages
       (id, seq, channel, sender, sent_at, claimed_by, claim_key, claimed_at, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Claims an unclaimed message, or finds it claimed by this very call.
    claimMessage: p(
      `UPDATE messages SET claimed_by = ?, claim_key = ?, claimed_at = COALESCE(claimed_at, ?)
       WHERE id = ? AND (claimed_by IS NULL OR (claimed_by = ? AND claim_key = ?))`,
    ),
    messageClaim: p("SELECT claimed_by, claim_key FROM messages WHERE id = ?"),
    nextMessages: p(
      `SELECT body, claimed_by, claim_key, claimed_at FROM messages
       WHERE channel = ? AND claimed_by IS NULL ORDER BY seq, id LIMIT ?`,
    ),
    claimedMessage: p(
      `SELECT body, claimed_by, claim_key, claimed_at FROM messages
       WHERE claimed_by = ? AND claim_key = ?`,
    ),
    listCheckpoints: p(
      `SELECT c.info AS body FROM checkpoint_members m JOIN checkpoints c ON c.id = m.id
       WHERE m.pid = ? ORDER BY c.created_at, c.id`,
    ),
  };
}

/** The schema version a database records (0 when it has none). */
function _schemaVersion(db: DatabaseSync): number {
  const table = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
  ).get();
  if (table === undefined) return 0;
  return Number(db.prepare("SELECT MAX(version) AS v FROM schema_version").get()?.v ?? 0);
}

function _newerSchema(path: string, found: number): LibosError {
  return libosError(
    "EINVAL",
    `Cannot open store '${path}': its schema version ${found} is newer than this code knows (${SQLITE_SCHEMA_VERSION})`,
    { path },
  );
}

/** Checks, without writing, that a database has exactly this code's schema. */
function _checkSchema(db: DatabaseSync, path: string): void {
  let found: number;
  try {
    found = _schemaVersion(db);
  } catch (error) {
    throw libosError("EINVAL", `Cannot open store '${path}': ${_message(error)}`, { path }, error);
  }
  if (found > SQLITE_SCHEMA_VERSION) throw _newerSchema(path, found);
  if (found === 0) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${path}' read-only: it holds no kernel state (no schema)`,
      { path },
    );
  }
  if (found < SQLITE_SCHEMA_VERSION) {
    throw libosError(
      "EINVAL",
      `Cannot open store '${path}' read-only: its schema version ${found} is older than ` +
        `this code's (${SQLITE_SCHEMA_VERSION}); open it for writing once to migrate it`,
      { path },
    );
  }
}

/** Brings the schema up to date, one step per transaction. */
function _migrate(db: DatabaseSync, path: string): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY,
      description TEXT NOT NULL,
      applied_at BIGINT NOT NULL)`,
  );
  const current = () => _schemaVersion(db);
  const found = current();
  if (found > SQLITE_SCHEMA_VERSION) throw _newerSchema(path, found);
  for (const step of _MIGRATIONS.slice(found)) {
    db.exec("BEGIN IMMEDIATE");
    try {
      // Another connection may have migrated while this one waited for the lock.
      if (current() < step.version) {
        for (const sql of step.statements) db.exec(sql);
        db.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)")
          .run(step.version, step.description, Date.now());
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw libosError(
        "EINTERNAL",
        `Cannot migrate store '${path}' to version ${step.version}: ${_message(error)}`,
        { path },
        error,
      );
    }
  }
}

/** Runs an insert, turning a key conflict into `EEXIST`. */
function _insert(
  statement: StatementSync,
  params: SQLInputValue[],
  message: () => string,
  fields?: Record<string, string>,
): void {
  try {
    statement.run(...params);
  } catch (error) {
    // SQLITE_CONSTRAINT is primary result code 19; extended codes keep it in the low byte.
    const code = (error as { errcode?: unknown }).errcode;
    if (typeof code === "number" && (code & 0xff) === 19) {
      throw libosError("EEXIST", message(), fields, error);
    }
    throw error;
  }
}

function _bodies<T>(rows: readonly Record<string, unknown>[]): T[] {
  return rows.map((row) => JSON.parse(String(row.body)) as T);
}

function _audit(row: Record<string, unknown>): StoredAudit {
  return { seq: Number(row.seq), body: String(row.body), hash: String(row.hash) };
}

/** An SQLite URI that opens `path` as a file nobody changes (no locks, no `-wal`, no `-shm`). */
/**
 * Opens read-only; `immutable` asks SQLite (through a `file:` URI) to create
 * no -wal or -shm file. Where this SQLite build takes no URI, the plain
 * read-only open is used.
 */
function _openReadOnly(path: string, immutable: boolean): DatabaseSync {
  if (immutable) {
    try {
      return new DatabaseSync(new URL(_immutableUri(path)), { readOnly: true });
    } catch {
      // fall through
    }
  }
  return new DatabaseSync(path, { readOnly: true });
}

function _immutableUri(path: string): string {
  return `${pathToFileURL(path).href}?immutable=1`;
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A WHERE clause of the conditions whose value is given, and its arguments. */
function _where(conds: [string, string | undefined][]): [string, string[]] {
  const given = conds.filter((c): c is [string, string] => c[1] !== undefined);
  return [
    given.length === 0 ? "" : `WHERE ${given.map((c) => c[0]).join(" AND ")}`,
    given.map((c) => c[1]),
  ];
}
