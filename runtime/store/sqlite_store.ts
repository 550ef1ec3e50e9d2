/**
 * The embedded store: SQLite through `node:sqlite`, in WAL mode with
 * `synchronous=FULL`. Batches that arrive together are committed in one
 * transaction (group commit, one fsync) on the next macrotask tick
 * (`sqlite_writer.ts`).
 *
 * Records are kept as JSON text bodies next to the few columns that lookups
 * need, so that the SQL stays portable to the PostgreSQL store. Audit records
 * get `pid` and `action` columns extracted from their body at insert time
 * (no `json_extract` expression indexes).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
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
  checkReserve,
  matchesGrant,
  matchesHuman,
  matchesProcess,
  narrowSnapshot,
  queryAfterSeq,
  queryLimit,
} from "./store_checks.ts";
import { LocalKernels } from "./local_kernels.ts";
import { checkSchema, migrate } from "./sqlite_schema.ts";
import { SqliteWriter } from "./sqlite_writer.ts";
import { THREAD_IDLE_MS } from "./sqlite_writer_thread.ts";
import { writeMessage, writerPragmas } from "./sqlite_writes.ts";
import { decodeMessage, encodeBatch, type EncodedMutation } from "./store_encoding.ts";
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
   * Whether groups of batches that several processes wait for are committed
   * by a writer thread, so that the kernel goes on while they are fsynced
   * (default true; `sqlite_writer.ts`). False: every commit is made in the
   * calling thread. An in-memory database never has one.
   */
  writerThread?: boolean;
  /** How long the writer thread waits for another group before it goes, in ms (default 2000). */
  writerThreadIdleMs?: number;
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
  /** Of the flushes, those committed by the writer thread (`sqlite_writer_thread.ts`). */
  threadFlushes: number;
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
  #writer: SqliteWriter | null;
  #batches = 0;
  #kernels = new LocalKernels();

  private constructor(db: DatabaseSync, path: string, writer: SqliteWriter | null) {
    this.#db = db;
    this.path = path;
    this.#access = writer === null ? "read-only" : "read-write";
    this.#writer = writer;
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
    const idleMs = options.writerThreadIdleMs ?? THREAD_IDLE_MS;
    if (!(groupCommitMs >= 0 && Number.isFinite(groupCommitMs))) {
      return Promise.reject(new RangeError(`groupCommitMs must be >= 0, got ${groupCommitMs}`));
    }
    if (!(Number.isSafeInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
      return Promise.reject(new RangeError(`busyTimeoutMs must be an integer >= 0`));
    }
    if (!(idleMs >= 0 && Number.isFinite(idleMs))) {
      return Promise.reject(new RangeError(`writerThreadIdleMs must be >= 0, got ${idleMs}`));
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
        libosError(
          "EINVAL",
          `Cannot open store '${path}': ${writeMessage(error)}`,
          { path },
          error,
        ),
      );
    }
    try {
      if (readOnly) {
        db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
        db.exec("PRAGMA foreign_keys = ON");
        // Connection settings only: neither pragma writes to the database.
        db.exec("PRAGMA query_only = ON");
        checkSchema(db, path);
        return Promise.resolve(new SqliteStore(db, path, null));
      }
      writerPragmas(db, busyTimeoutMs);
      migrate(db, path);
      return Promise.resolve(
        new SqliteStore(
          db,
          path,
          new SqliteWriter(db, path, {
            groupCommitMs,
            thread: { busyTimeoutMs, idleMs, enabled: options.writerThread ?? true },
          }),
        ),
      );
    } catch (error) {
      db.close();
      return Promise.reject(error);
    }
  }

  /** Counters since open (a copy). */
  get stats(): SqliteStoreStats {
    const w = this.#writer?.stats;
    return {
      batches: this.#batches,
      flushes: w?.flushes ?? 0,
      transactions: w?.transactions ?? 0,
      threadFlushes: w?.threadFlushes ?? 0,
    };
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
      // One kernel at a time: a batch of a kernel that another has since
      // replaced is refused here, before it is queued.
      if (options.fence !== undefined) this.#kernels.check(options.fence);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#batches++;
    return this.#writer!.commit(ops, options.behind === true);
  }

  /** Reserves a block of ids in its own transaction. */
  reserveIds(kind: string, count: number, options: ReserveIdsOptions = {}): Promise<number> {
    try {
      this.#writable("reserve ids in");
      checkReserve(kind, count, options.atLeast);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer!.reserve(kind, count, options.atLeast, options.reset === true);
  }

  /** Gives back the tail of the last block. */
  releaseIds(kind: string, from: number, end: number): Promise<void> {
    try {
      this.#writable("release ids in");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer!.release(kind, from, end);
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

  /** Throws unless the store is open for writing. */
  #writable(verb: string): void {
    this.#assertOpen(verb);
    if (this.#access === "read-only") {
      throw libosError(
        "ESTATE",
        `Cannot ${verb} store '${this.path}': the store is open read-only`,
      );
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
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    try {
      await this.#writer?.close();
    } finally {
      this.#db.close();
    }
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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

/** Prepares the read statements once. */
function _prepare(db: DatabaseSync) {
  const p = (sql: string) => db.prepare(sql);
  return {
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
    readCheckpoint: p("SELECT body FROM checkpoints WHERE id = ?"),
    readCommand: p("SELECT body FROM commands WHERE id = ?"),
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

/** A WHERE clause of the conditions whose value is given, and its arguments. */
function _where(conds: [string, string | undefined][]): [string, string[]] {
  const given = conds.filter((c): c is [string, string] => c[1] !== undefined);
  return [
    given.length === 0 ? "" : `WHERE ${given.map((c) => c[0]).join(" AND ")}`,
    given.map((c) => c[1]),
  ];
}
