/**
 * The PostgreSQL store, on the `postgres` package (postgres.js). The tables
 * are the SQLite store's, in a schema of their own (the URL's `?schema=NAME`,
 * default `libos`), brought up to date by versioned migrations recorded in
 * `schema_version`, each applied once, in its own transaction.
 *
 * The URL is read by `postgres_url.ts`, the schema kept by `postgres_schema.ts`.
 *
 * Group commit: batches that arrive while a transaction is in flight wait for
 * it, then go together into the next one, in arrival order; one transaction
 * is in flight at a time, so a batch that is durable implies every earlier
 * batch is too (the queue is `group_commit.ts`, shared with SQLite). A group
 * is written with one multi-row statement per table (`postgres_writes.ts`: a
 * constant text, prepared once), sent pipelined with its BEGIN and COMMIT:
 * one round trip. When a group
 * fails, each of its batches is retried alone, statement by statement in
 * order, so that only a bad batch rejects, with the SQLite store's message.
 * A connection lost during a group fails it the same way, and the retries run
 * on a new connection. One case stays ambiguous, as with any client: a COMMIT
 * that the server carried out but whose answer was lost; the retry of an
 * append then rejects with `EEXIST` although the batch is durable.
 *
 * @module
 */
import type postgres from "postgres";
import { LibosError, libosError } from "../errors.ts";
import type {
  ApplyOptions,
  AuditQuery,
  ClaimedProcess,
  ClusterView,
  Fence,
  ForwardedCommand,
  ForwardQueue,
  GrantQuery,
  HumanQuery,
  JournalQuery,
  KernelInfo,
  KernelRegistration,
  KernelState,
  ListenNotify,
  LoadOptions,
  Mutation,
  ProcessQuery,
  ReserveIdsOptions,
  Store,
  StoreSnapshot,
} from "./store.ts";
import { checkReserve, queryAfterSeq, queryLimit } from "./store_checks.ts";
import { fencedError } from "./local_kernels.ts";
import { GroupCommit } from "./group_commit.ts";
import { decodeMessage, encodeBatch, type EncodedMutation } from "./store_encoding.ts";
import { checkPostgresSchema, migratePostgresSchema } from "./postgres_schema.ts";
import { parsePostgresUrl, type PostgresTarget } from "./postgres_url.ts";
import {
  fenceStatements,
  groupStatements,
  owned,
  type PgPending,
  type PgTx,
  settle,
  writeInOrder,
} from "./postgres_writes.ts";
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

/** The states of a forwarded command, as stored. */
const _FORWARD_STATES = ["pending", "taken", "done", "expired"] as const;

/** Options of {@linkcode PostgresStore.open}. */
export interface PostgresStoreOptions {
  /**
   * The schema that holds the tables, created if missing (default: the URL's
   * `schema` parameter, else `libos`, `POSTGRES_DEFAULT_SCHEMA`). A lowercase
   * SQL identifier: `[a-z_][a-z0-9_]*`, at most 63 characters.
   */
  schema?: string;
  /**
   * How long the store waits to gather batches into one transaction when none
   * is in flight, in milliseconds. Default 0: the next macrotask tick. Under
   * load the groups form by themselves: batches gather while a commit runs.
   */
  groupCommitMs?: number;
  /**
   * Open for reading only (default false): no schema created or migrated, every
   * session read-only (`default_transaction_read_only`); `apply` rejects with
   * `ESTATE`. The schema must be this code's version (`EINVAL` otherwise).
   */
  readOnly?: boolean;
  /** Connections in the pool (default 4): one commits at a time, the others read. */
  maxConnections?: number;
  /** Seconds to wait for a connection to the server (default 10). */
  connectTimeoutSeconds?: number;
  /**
   * What this store's kernels run on, held by one of them at a time (a data
   * directory under its lock: `openStore` passes host and path). A kernel
   * registering with it ends its predecessor on that node at once, as dead:
   * a restart adopts its processes without waiting for the lease to expire.
   * Default none.
   */
  node?: string;
}

/** Counters of a {@linkcode PostgresStore}, for tests and benchmarks. */
export interface PostgresStoreStats {
  /** Batches accepted by `apply`. */
  batches: number;
  /** Group commits (each starts with one transaction). */
  flushes: number;
  /** Write transactions begun, including the one-by-one retries of a failed group. */
  transactions: number;
}

type _Sql = postgres.Sql;
type _Row = Record<string, unknown>;

/** The database's clock in ms since the epoch: leases are compared with it, never a host's. */
const _NOW_SQL = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/** The PostgreSQL implementation of {@linkcode Store}. */
export class PostgresStore implements Store {
  /** Always "postgres". */
  readonly kind = "postgres";
  /** Several kernels share one database (docs/cluster.md). */
  readonly shared = true;
  /** The store's URL as messages show it (the password replaced by `***`). */
  readonly location: string;
  /** The schema that holds the tables. */
  readonly schema: string;

  #sql: _Sql;
  #state: "open" | "closed" = "open";
  #access: "read-write" | "read-only";
  #groups: GroupCommit<PgPending>;
  /** The running commit loop, or null when no transaction is in flight. */
  #closed: Promise<void> | null = null;
  #stats: PostgresStoreStats = { batches: 0, flushes: 0, transactions: 0 };
  readonly #node: string | null;

  private constructor(
    sql: _Sql,
    target: PostgresTarget,
    options: { groupCommitMs: number; access: "read-write" | "read-only"; node: string | null },
  ) {
    this.#sql = sql;
    this.#node = options.node;
    this.location = target.shown;
    this.schema = target.schema;
    this.#access = options.access;
    this.#groups = new GroupCommit({
      delayMs: options.groupCommitMs,
      commit: (pending) => this.#commitGroup(pending),
    });
  }

  /**
   * Connects to the database `url` names (`postgres://user[:password]@host[:port]/db`,
   * optionally `?schema=NAME`), creates the schema if missing and brings it up
   * to date. Fails with `EINVAL` when the server cannot be reached or the
   * schema was written by newer code; with a `TypeError` for a malformed URL.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const target = parsePostgresUrl(url, options.schema);
    const groupCommitMs = options.groupCommitMs ?? 0;
    const max = options.maxConnections ?? 4;
    const connectTimeout = options.connectTimeoutSeconds ?? 10;
    if (!(groupCommitMs >= 0 && Number.isFinite(groupCommitMs))) {
      throw new RangeError(`groupCommitMs must be >= 0, got ${groupCommitMs}`);
    }
    if (!(Number.isSafeInteger(max) && max >= 1)) {
      throw new RangeError(`maxConnections must be an integer >= 1, got ${max}`);
    }
    if (!(connectTimeout > 0 && Number.isFinite(connectTimeout))) {
      throw new RangeError(`connectTimeoutSeconds must be > 0, got ${connectTimeout}`);
    }
    const readOnly = options.readOnly ?? false;
    // Loaded here: a kernel on SQLite never loads the driver.
    const { default: connect } = await import("postgres");
    const sql = connect(target.url, {
      max,
      connect_timeout: connectTimeout,
      onnotice: () => {},
      connection: {
        application_name: "libos",
        search_path: target.schema,
        ...(readOnly ? { default_transaction_read_only: true } : {}),
      },
    });
    try {
      if (readOnly) await checkPostgresSchema(sql, target);
      else await migratePostgresSchema(sql, target);
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {});
      if (error instanceof LibosError) throw error;
      throw libosError(
        "EINVAL",
        `Cannot open store '${target.shown}': ${_message(error)}`,
        { path: target.shown },
        error,
      );
    }
    return new PostgresStore(sql, target, {
      groupCommitMs,
      access: readOnly ? "read-only" : "read-write",
      node: options.node ?? null,
    });
  }

  /** LISTEN/NOTIFY on `libos.<schema>` (a connection of its own while listening). */
  get listenNotify(): ListenNotify {
    const sql = this.#sql;
    return {
      channel: `libos.${this.schema}`,
      listen: (channel, onNotify) => sql.listen(channel, onNotify),
      notify: (channel, payload) => sql.notify(channel, payload),
    };
  }

  /** Counters since open (a copy). */
  get stats(): PostgresStoreStats {
    return { ...this.#stats };
  }

  /**
   * Queues a batch for the next group commit; resolves when the transaction
   * holding it is committed. The records are encoded now, so a caller may
   * change its objects as soon as `apply` returns.
   */
  apply(batch: readonly Mutation[], options: ApplyOptions = {}): Promise<void> {
    let ops: EncodedMutation[];
    try {
      ops = encodeBatch({
        location: this.location,
        closed: this.#state === "closed",
        readOnly: this.#access === "read-only",
      }, batch);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stats.batches++;
    return this.#groups.add({ ops, fence: options.fence }, options.behind === true);
  }

  /**
   * Loads the state the kernel needs at boot, from one snapshot of the
   * database: every process, or those `options.owner` owns, or `options.pids`.
   */
  load(options: LoadOptions = {}): Promise<StoreSnapshot> {
    return this.#read(() =>
      this.#sql.begin("isolation level repeatable read read only", async (tx) => {
        const { owner, pids } = options;
        const byPid = pids !== undefined
          ? tx`WHERE pid = ANY(${pids as string[]}::text[])`
          : owner !== undefined
          ? tx`WHERE owner = ${owner}`
          : tx``;
        const humanBy = pids !== undefined
          ? tx`WHERE pid = ANY(${pids as string[]}::text[])`
          : owner !== undefined
          ? tx`WHERE pid IN (SELECT pid FROM processes WHERE owner = ${owner})`
          : tx``;
        const grantsBy = pids !== undefined
          ? tx`WHERE subject = ANY(${pids as string[]}::text[])`
          : tx``;
        const journalHeads = pids !== undefined || owner !== undefined
          ? tx`SELECT pid, MAX(seq) AS seq FROM journal ${humanBy} GROUP BY pid`
          // A loose index scan: one index probe per pid, not a scan of the journal.
          : tx`WITH RECURSIVE pids (pid) AS (
               SELECT MIN(pid) FROM journal
               UNION ALL
               SELECT (SELECT MIN(j.pid) FROM journal j WHERE j.pid > pids.pid)
               FROM pids WHERE pids.pid IS NOT NULL)
             SELECT pid, (SELECT MAX(j.seq) FROM journal j WHERE j.pid = pids.pid) AS seq
             FROM pids WHERE pid IS NOT NULL`;
        const [processes, grants, objects, human, images, meta, head, heads] = await Promise.all([
          tx`SELECT body FROM processes ${byPid} ORDER BY pid`,
          tx`SELECT body FROM grants ${grantsBy} ORDER BY id`,
          tx`SELECT v.body FROM objects o
             JOIN object_versions v ON v.oid = o.oid AND v.version = o.version
             WHERE NOT o.deleted ORDER BY o.oid`,
          tx`SELECT body FROM human ${humanBy} ORDER BY id`,
          tx`SELECT body FROM images ORDER BY id`,
          tx`SELECT key, value FROM meta ORDER BY key`,
          tx`SELECT seq, body, hash FROM audit ORDER BY seq DESC LIMIT 1`,
          journalHeads,
        ]);
        const snapshot: StoreSnapshot = {
          processes: _bodies<ProcessRecord>(processes),
          grants: _bodies<Grant>(grants),
          objects: _bodies<ObjectRecord>(objects),
          human: _bodies<HumanRequest>(human),
          images: _bodies<ImageRecord>(images),
          meta: Object.fromEntries(
            meta.map((row) => [String(row.key), JSON.parse(String(row.value))]),
          ),
          auditHead: head[0] === undefined ? null : _audit(head[0]),
          journalHeads: Object.fromEntries(
            heads.map((row) => [String(row.pid), Number(row.seq)]),
          ),
        };
        return snapshot;
      })
    );
  }

  /** Reserves a block of ids: one statement, atomic however many kernels race. */
  reserveIds(kind: string, count: number, options: ReserveIdsOptions = {}): Promise<number> {
    return this.#write("reserve ids in", async () => {
      checkReserve(kind, count, options.atLeast);
      const atLeast = options.atLeast ?? 0;
      const [row] = await this.#sql`INSERT INTO ids (kind, last) VALUES (${kind}, ${
        atLeast + count
      })
        ON CONFLICT (kind) DO UPDATE SET last = GREATEST(ids.last, ${atLeast}) + ${count}
        RETURNING last`;
      return Number(row!.last) - count + 1;
    });
  }

  /** Gives back the tail of the last block, unless a later block was reserved. */
  releaseIds(kind: string, from: number, end: number): Promise<void> {
    return this.#write("release ids in", async () => {
      await this.#sql`UPDATE ids SET last = ${from - 1} WHERE kind = ${kind} AND last = ${end - 1}`;
    });
  }

  /** Registers a kernel: a new id, epoch 1, alive, its lease starting now (the database's clock). */
  async registerKernel(registration: KernelRegistration): Promise<Fence> {
    const n = await this.reserveIds("kernel", 1);
    const id = `k_${n}`;
    await this.#write("register a kernel in", () =>
      this.#sql.begin(async (tx) => {
        if (this.#node !== null) {
          // The node is held by one kernel at a time: the one before is over.
          await tx`UPDATE kernels SET state = 'dead', epoch = epoch + 1
            WHERE node = ${this.#node} AND state = 'alive'`;
        }
        await tx.unsafe(
          `INSERT INTO kernels (id, host, pid, started_at, heartbeat_at, ttl_ms, epoch, state, node)
           VALUES ($1, $2, $3, ${_NOW_SQL}, ${_NOW_SQL}, $4, 1, 'alive', $5)`,
          [id, registration.host, registration.pid, registration.ttlMs, this.#node],
        );
      }));
    return { kernel: id, epoch: 1 };
  }

  /** Renews a lease; `EFENCED` when the kernel is no longer alive at that epoch. */
  heartbeat(fence: Fence): Promise<void> {
    return this.#write("heartbeat in", async () => {
      const r = await this.#sql.unsafe(
        `UPDATE kernels SET heartbeat_at = ${_NOW_SQL}
         WHERE id = $1 AND epoch = $2 AND state = 'alive'`,
        [fence.kernel, fence.epoch],
      );
      if (r.count === 0) throw await this.#fenced(fence);
    });
  }

  /** Marks a kernel stopped: its processes may be adopted at once. */
  stopKernel(fence: Fence): Promise<void> {
    return this.#write("stop a kernel in", async () => {
      const r = await this.#sql`UPDATE kernels SET state = 'stopped'
        WHERE id = ${fence.kernel} AND epoch = ${fence.epoch} AND state = 'alive'`;
      if (r.count === 0) throw await this.#fenced(fence);
    });
  }

  /** Every kernel with its lease and load, and the database's clock. */
  listKernels(): Promise<ClusterView> {
    return this.#read(async () => {
      const [clock] = await this.#sql.unsafe(`SELECT ${_NOW_SQL} AS now`);
      const rows = await this.#sql`SELECT k.*,
          (SELECT count(*) FROM processes p WHERE p.owner = k.id) AS processes,
          (SELECT count(*) FROM processes p WHERE p.owner = k.id
            AND p.state NOT IN ('exited', 'failed', 'killed')) AS live
        FROM kernels k ORDER BY k.started_at, k.id`;
      const kernels = rows.map((row): KernelInfo => ({
        id: String(row.id),
        host: String(row.host),
        pid: Number(row.pid),
        startedAt: Number(row.started_at),
        heartbeatAt: Number(row.heartbeat_at),
        ttlMs: Number(row.ttl_ms),
        epoch: Number(row.epoch),
        state: String(row.state) as KernelState,
        leaseExpiresAt: Number(row.heartbeat_at) + Number(row.ttl_ms),
        liveProcesses: Number(row.live),
        processes: Number(row.processes),
      }));
      return { now: Number(clock!.now), kernels };
    });
  }

  /**
   * Declares a kernel dead if it is alive at `epoch` and its lease has expired
   * by the database's clock; bumps its epoch. The row lock orders it with the
   * victim's writes: a write that committed first is seen by the adopter, a
   * later one is fenced.
   */
  declareDead(id: string, epoch: number): Promise<boolean> {
    return this.#write("declare a kernel dead in", async () => {
      const r = await this.#sql.unsafe(
        `UPDATE kernels SET state = 'dead', epoch = epoch + 1
         WHERE id = $1 AND epoch = $2 AND state = 'alive'
           AND heartbeat_at + ttl_ms < ${_NOW_SQL}`,
        [id, epoch],
      );
      return r.count === 1;
    });
  }

  /**
   * Claims up to `limit` processes of dead or stopped kernels (or of none):
   * `FOR UPDATE SKIP LOCKED`, so racing claimers take disjoint sets.
   */
  claimProcesses(to: Fence, options: { limit: number }): Promise<ClaimedProcess[]> {
    return this.#write("claim processes in", () =>
      this.#sql.begin(async (tx) => {
        const [me] = await tx`SELECT epoch, state FROM kernels WHERE id = ${to.kernel} FOR SHARE`;
        if (me === undefined || Number(me.epoch) !== to.epoch || me.state !== "alive") {
          throw fencedError(to, me === undefined ? "it is not registered" : `it is ${me.state}`);
        }
        // No join in the locking scan: a row another claimer took meanwhile
        // is re-checked as it is now (its new owner alive), not as joined
        // from the statement's snapshot.
        const rows = await tx`WITH victims AS (
            SELECT p.pid, p.owner FROM processes p
            WHERE p.owner IS NULL OR NOT EXISTS (
              SELECT 1 FROM kernels k WHERE k.id = p.owner AND k.state = 'alive')
            ORDER BY p.pid LIMIT ${options.limit}
            FOR UPDATE OF p SKIP LOCKED)
          UPDATE processes p SET owner = ${to.kernel} FROM victims v
          WHERE p.pid = v.pid AND p.owner IS DISTINCT FROM ${to.kernel}
          RETURNING p.pid, v.owner,
            COALESCE((SELECT k.state = 'stopped' FROM kernels k WHERE k.id = v.owner), false)
              AS clean`;
        return rows.map((row): ClaimedProcess => ({
          pid: String(row.pid),
          from: row.owner === null ? null : String(row.owner),
          clean: row.clean === true,
        }));
      }) as Promise<ClaimedProcess[]>);
  }

  /** The `EFENCED` error for a fence, naming the kernel's state now. */
  async #fenced(fence: Fence): Promise<Error> {
    const [row] = await this.#sql`SELECT epoch, state FROM kernels WHERE id = ${fence.kernel}`;
    return fencedError(
      fence,
      row === undefined ? "it is not registered" : `it is ${row.state} at epoch ${row.epoch}`,
    );
  }

  async #write<T>(verb: string, write: () => Promise<T>): Promise<T> {
    if (this.#state === "closed") {
      throw libosError("ESTATE", `Cannot ${verb} store '${this.location}': the store is closed`);
    }
    if (this.#access === "read-only") {
      throw libosError(
        "ESTATE",
        `Cannot ${verb} store '${this.location}': the store is open read-only`,
      );
    }
    return await write();
  }

  /** Reads a process's journal in seq order. */
  readJournal(pid: Pid, query: JournalQuery = {}): Promise<JournalEntry[]> {
    return this.#read(async () => {
      const afterSeq = _seqBound(queryAfterSeq(query.afterSeq));
      const limit = queryLimit(query.limit, -1);
      // LIMIT NULL is LIMIT ALL.
      const rows = await this.#sql`SELECT body FROM journal WHERE pid = ${pid} AND seq > ${afterSeq}
        ORDER BY seq LIMIT ${limit < 0 ? null : limit}`;
      return _bodies<JournalEntry>(rows);
    });
  }

  /** Reads audit records in seq order, filtered by pid and action. */
  readAudit(query: AuditQuery = {}): Promise<StoredAudit[]> {
    return this.#read(async () => {
      const afterSeq = _seqBound(queryAfterSeq(query.afterSeq));
      const limit = queryLimit(query.limit, 1000);
      const sql = this.#sql;
      const byPid = query.pid === undefined ? sql`` : sql`AND pid = ${query.pid}`;
      const byAction = query.action === undefined ? sql`` : sql`AND action = ${query.action}`;
      const rows = await sql`SELECT seq, body, hash FROM audit
        WHERE seq > ${afterSeq} ${byPid} ${byAction} ORDER BY seq LIMIT ${limit}`;
      return rows.map(_audit);
    });
  }

  /** Reads every version of an object (deleted or not), oldest first. */
  readObjectVersions(oid: string): Promise<ObjectRecord[]> {
    return this.#read(async () =>
      _bodies<ObjectRecord>(
        await this.#sql`SELECT body FROM object_versions WHERE oid = ${oid} ORDER BY version`,
      )
    );
  }

  /** Reads one checkpoint, or null. */
  readCheckpoint(id: string): Promise<CheckpointRecord | null> {
    return this.#read(async () => {
      const [row] = await this.#sql`SELECT body FROM checkpoints WHERE id = ${id}`;
      return row === undefined ? null : JSON.parse(String(row.body)) as CheckpointRecord;
    });
  }

  /** Checkpoints that include a process, oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    return this.#read(async () =>
      _bodies<CheckpointInfo>(
        await this.#sql`SELECT c.info AS body FROM checkpoint_members m
          JOIN checkpoints c ON c.id = m.id
          WHERE m.pid = ${pid} ORDER BY c.created_at, c.id`,
      )
    );
  }

  /** The newest version of each live object of a namespace, by oid. */
  readObjects(namespace: string): Promise<ObjectRecord[]> {
    return this.#read(async () =>
      _bodies<ObjectRecord>(
        await this.#sql`SELECT v.body FROM objects o
          JOIN object_versions v ON v.oid = o.oid AND v.version = o.version
          WHERE o.namespace = ${namespace} AND NOT o.deleted ORDER BY o.oid`,
      )
    );
  }

  /** The ids of a namespace's objects, deleted ones too, by oid. */
  listObjectIds(namespace: string): Promise<string[]> {
    return this.#read(async () =>
      (await this.#sql`SELECT oid FROM objects WHERE namespace = ${namespace} ORDER BY oid`)
        .map((row) => String(row.oid))
    );
  }

  /** Process records of every kernel, in pid order. */
  readProcesses(query: ProcessQuery = {}): Promise<ProcessRecord[]> {
    return this.#read(async () => {
      const sql = this.#sql;
      const conds = [
        query.pids === undefined ? null : sql`pid = ANY(${query.pids as string[]}::text[])`,
        query.state === undefined ? null : sql`state = ${query.state}`,
        query.parent === undefined ? null : sql`parent_pid = ${query.parent}`,
      ];
      return _bodies<ProcessRecord>(
        await sql`SELECT body FROM processes ${_whereAll(sql, conds)} ORDER BY pid`,
      );
    });
  }

  /** Human requests of every kernel, in id order. */
  readHumanRequests(query: HumanQuery = {}): Promise<HumanRequest[]> {
    return this.#read(async () => {
      const sql = this.#sql;
      const conds = [
        query.ids === undefined ? null : sql`id = ANY(${query.ids as string[]}::text[])`,
        query.state === undefined ? null : sql`state = ${query.state}`,
        query.pid === undefined ? null : sql`pid = ${query.pid}`,
      ];
      return _bodies<HumanRequest>(
        await sql`SELECT body FROM human ${_whereAll(sql, conds)} ORDER BY id`,
      );
    });
  }

  /** Commands forwarded between kernels (docs/cluster.md "Across kernels"). */
  get forwarded(): ForwardQueue {
    const sql = this.#sql;
    const decode = (row: _Row): ForwardedCommand => ({
      id: String(row.id),
      owner: row.owner === null ? null : String(row.owner),
      pid: row.pid === null ? null : String(row.pid),
      kind: String(row.kind),
      payload: JSON.parse(String(row.payload)),
      state: _FORWARD_STATES.find((state) => state === row.state) ?? "pending",
      result: row.result === null ? null : JSON.parse(String(row.result)),
      createdAt: Number(row.created_at),
      takenBy: row.taken_by === null ? null : String(row.taken_by),
      doneAt: row.done_at === null ? null : Number(row.done_at),
    });
    return {
      put: (c) =>
        this.#write("forward a command", async () => {
          await sql`INSERT INTO forwarded (id, owner, pid, kind, payload, state, result, created_at)
            VALUES (${c.id}, ${c.owner}, ${c.pid}, ${c.kind}, ${JSON.stringify(c.payload)},
              'pending', NULL, ${c.createdAt})`;
        }),
      pendingFor: (kernel, limit) =>
        this.#read(async () =>
          (await sql`SELECT * FROM forwarded WHERE state = 'pending' AND (owner = ${kernel}
              OR pid IN (SELECT pid FROM processes WHERE owner = ${kernel}))
            ORDER BY created_at, id LIMIT ${queryLimit(limit, 0)}`).map(decode)
        ),
      take: (id, kernel) =>
        this.#write("take a forwarded command", async () => {
          const r = await sql`UPDATE forwarded SET state = 'taken', taken_by = ${kernel}
            WHERE id = ${id} AND state = 'pending'`;
          return r.count === 1;
        }),
      expire: (id) =>
        this.#write("expire a forwarded command", async () => {
          const r = await sql`UPDATE forwarded SET state = 'expired', done_at = ${Date.now()}
            WHERE id = ${id} AND state = 'pending'`;
          return r.count === 1;
        }),
      finish: (id, result) =>
        this.#write("finish a forwarded command", async () => {
          const r = await sql`UPDATE forwarded SET state = 'done', result = ${
            JSON.stringify(result ?? null)
          }, done_at = ${Date.now()} WHERE id = ${id} AND state IN ('pending', 'taken')`;
          return r.count === 1;
        }),
      failOrphans: (result, limit) =>
        this.#write(
          "answer orphaned forwarded commands",
          async () =>
            (await sql`UPDATE forwarded SET state = 'done', result = ${
              JSON.stringify(result ?? null)
            }, done_at = ${Date.now()}
            WHERE id IN (SELECT f.id FROM forwarded f WHERE f.state = 'taken'
              AND NOT EXISTS (SELECT 1 FROM kernels k WHERE k.id = f.taken_by AND k.state = 'alive')
              ORDER BY f.created_at, f.id LIMIT ${queryLimit(limit, 0)})
              AND state = 'taken'
            RETURNING id`).map((row) => String(row.id)),
        ),
      purge: (before) =>
        this.#write("purge forwarded commands", async () => {
          const r =
            await sql`DELETE FROM forwarded WHERE COALESCE(done_at, created_at) <= ${before}`;
          return r.count;
        }),
      read: (id) =>
        this.#read(async () => {
          const [row] = await sql`SELECT * FROM forwarded WHERE id = ${id}`;
          return row === undefined ? null : decode(row);
        }),
    };
  }

  /** Grants of every kernel, in id order. */
  readGrants(query: GrantQuery = {}): Promise<Grant[]> {
    return this.#read(async () => {
      const sql = this.#sql;
      const conds = [
        query.ids === undefined ? null : sql`id = ANY(${query.ids as string[]}::text[])`,
        query.subject === undefined ? null : sql`subject = ${query.subject}`,
      ];
      return _bodies<Grant>(
        await sql`SELECT body FROM grants ${_whereAll(sql, conds)} ORDER BY id`,
      );
    });
  }

  /**
   * Claims an idempotent command's id for `runner` across the kernels of
   * the store: one conditional upsert, so of two kernels claiming at once
   * exactly one gets it (see Store.claimCommand).
   */
  claimCommand(
    record: CommandRecord,
    runner: string,
    now: number,
  ): Promise<CommandRecord | null> {
    return this.#write("claim a command in", async () => {
      const sql = this.#sql;
      const claim = { ...record, state: "running" as const, runner, refs: null, response: null };
      const won = await sql`INSERT INTO commands (id, expires_at, body)
        VALUES (${record.id}, ${record.expiresAt}, ${JSON.stringify(claim)})
        ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, body = EXCLUDED.body
        WHERE commands.expires_at <= ${now}
          OR (commands.body::jsonb->>'state' = 'running' AND NOT EXISTS (
            SELECT 1 FROM kernels k WHERE k.id = commands.body::jsonb->>'runner'
              AND k.state = 'alive'))
        RETURNING id`;
      if (won.length === 1) return null;
      const [row] = await sql`SELECT body FROM commands WHERE id = ${record.id}`;
      // Purged meanwhile: nothing is in the way, yet nothing was claimed; the
      // caller answers busy and a retry claims it.
      return row === undefined ? claim : JSON.parse(String(row.body)) as CommandRecord;
    });
  }

  /** Deletes `runner`'s `running` claim of `id`, if it is still that. */
  releaseCommand(id: string, runner: string): Promise<void> {
    return this.#write("release a command in", async () => {
      await this.#sql`DELETE FROM commands WHERE id = ${id}
        AND body::jsonb->>'state' = 'running' AND body::jsonb->>'runner' = ${runner}`;
    });
  }

  /** Reads an idempotent command's record, or null. */
  readCommand(id: string): Promise<CommandRecord | null> {
    return this.#read(async () => {
      const [row] = await this.#sql`SELECT body FROM commands WHERE id = ${id}`;
      return row === undefined ? null : JSON.parse(String(row.body)) as CommandRecord;
    });
  }

  /** The oldest unclaimed messages of a channel, in seq order. */
  nextMessages(channel: string, limit: number): Promise<MessageRecord[]> {
    return this.#read(async () =>
      (await this.#sql`SELECT body, claimed_by, claim_key, claimed_at FROM messages
        WHERE channel = ${channel} AND claimed_by IS NULL ORDER BY seq, id
        LIMIT ${queryLimit(limit, 0)}`).map((row) => decodeMessage(row))
    );
  }

  /** The message a receive call claimed, or null. */
  claimedMessage(pid: Pid, key: string): Promise<MessageRecord | null> {
    return this.#read(async () => {
      const [row] = await this.#sql`SELECT body, claimed_by, claim_key, claimed_at FROM messages
        WHERE claimed_by = ${pid} AND claim_key = ${key}`;
      return row === undefined ? null : decodeMessage(row);
    });
  }

  /** Commits pending batches, then closes the connections. Idempotent. */
  close(): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#state = "closed";
    this.#closed = (async () => {
      try {
        // Ends: applies are refused from now on, so the queue only shrinks.
        await this.#groups.flush();
      } finally {
        await this.#sql.end({ timeout: 5 });
      }
    })();
    return this.#closed;
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Commits every batch of a group in one transaction, in arrival order. When
   * that fails, retries them one by one so that only a bad batch rejects.
   */
  async #commitGroup(pending: readonly PgPending[]): Promise<unknown[]> {
    this.#stats.flushes++;
    const error = await this.#transactPipelined(pending);
    if (error === null) return pending.map(() => null);
    const errors: unknown[] = [];
    for (const p of pending) {
      errors.push(await this.#transact((tx) => writeInOrder(tx, p.ops, p.fence)));
    }
    return errors;
  }

  /**
   * Runs a group's transaction in one round trip: BEGIN, the group's
   * statements and COMMIT are sent together on one reserved connection. A
   * failed statement aborts the transaction, and PostgreSQL then answers the
   * COMMIT with ROLLBACK. Returns the error that rolled it back, or null.
   */
  async #transactPipelined(pending: readonly PgPending[]): Promise<unknown> {
    this.#stats.transactions++;
    let reserved: postgres.ReservedSql;
    try {
      reserved = await this.#sql.reserve();
    } catch (error) {
      return this.#commitError(error);
    }
    const outcome = await settle([
      reserved`BEGIN`,
      ...fenceStatements(reserved, pending),
      ...groupStatements(reserved, owned(pending)),
      reserved`COMMIT`,
    ]);
    // A lost connection is not handed back: the pool has it among its closed
    // ones already, and connects it again for a later query.
    if (!outcome.lost) reserved.release();
    if (outcome.error !== null) return this.#commitError(outcome.error);
    const command = (outcome.last as { command?: unknown } | undefined)?.command;
    if (command !== "COMMIT") {
      return this.#commitError(new Error(`the server answered COMMIT with ${String(command)}`));
    }
    return null;
  }

  /** Runs one write transaction; returns the error that rolled it back, or null. */
  async #transact(write: (tx: PgTx) => Promise<void>): Promise<unknown> {
    this.#stats.transactions++;
    try {
      await this.#sql.begin(write);
      return null;
    } catch (error) {
      return this.#commitError(error);
    }
  }

  #commitError(error: unknown): LibosError {
    if (error instanceof LibosError) return error;
    return libosError(
      "EINTERNAL",
      `Cannot commit to store '${this.location}': ${_message(error)}`,
      { path: this.location },
      error,
    );
  }

  async #read<T>(read: () => Promise<T>): Promise<T> {
    if (this.#state === "closed") {
      throw libosError("ESTATE", `Cannot read store '${this.location}': the store is closed`);
    }
    return await read();
  }
}

/**
 * `afterSeq` as a bigint bound: seqs are integers, so `seq > 2.5` is `seq > 2`;
 * a bound past every safe integer matches nothing, one below 0 everything.
 */
function _seqBound(afterSeq: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(-1, Math.floor(afterSeq)));
}

function _bodies<T>(rows: readonly _Row[]): T[] {
  return rows.map((row) => JSON.parse(String(row.body)) as T);
}

function _audit(row: _Row): StoredAudit {
  return { seq: Number(row.seq), body: String(row.body), hash: String(row.hash) };
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `WHERE a AND b …` of the given conditions, or nothing. */
function _whereAll(sql: _Sql, conds: readonly (postgres.PendingQuery<postgres.Row[]> | null)[]) {
  const given = conds.filter((c) => c !== null);
  if (given.length === 0) return sql``;
  return given.slice(1).reduce((acc, c) => sql`${acc} AND ${c}`, sql`WHERE ${given[0]!}`);
}
