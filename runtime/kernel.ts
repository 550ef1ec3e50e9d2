/**
 * The kernel: the host process of Agent libOS. It owns every process, grant,
 * object, human request, journal and the audit chain; it schedules processes
 * and performs their effects only through the primitives of `syscalls.ts`.
 *
 * Live state is kept in memory; every change is written to the store as a
 * batch (group-committed), and the kernel acts on a change only once its
 * batch is durable where the change has an outside effect.
 *
 * @module
 */
import type { McpClients } from "./mcp/mcp_clients.ts";
import { AuditChain, auditPages, verifyAudit } from "./audit/audit_chain.ts";
import type { AuditVerification } from "./audit/audit_chain.ts";
import { Batch } from "./engine/batch.ts";
import { CommandLedger, stampCommand } from "./engine/command_ledger.ts";
import { delegate, issueGrant, validateGrantSpec } from "./capability/capability.ts";
import { type Clock, systemClock } from "./substrate/clock.ts";
import { LibosError, libosError } from "./errors.ts";
import { EventBus, type KernelEvent, type KernelListener } from "./events.ts";
import type { FilesystemProvider } from "./substrate/fs_provider.ts";
import { GrantTable } from "./capability/grant_table.ts";
import { Authorizer } from "./engine/authorizer.ts";
import { type Ceiling, checkCeiling, describeCeiling } from "./capability/ceiling.ts";
import type {
  Actor,
  ForkRequest,
  HumanDecision,
  KernelCore,
  LiveState as _Live,
  Signal,
  SpawnRequest,
} from "./kernel_core.ts";
import { ImageRegistry } from "./images/image_registry.ts";
import { assertTransition, isTerminal } from "./process/lifecycle.ts";
import { MemoryFilesystem } from "./substrate/memory_fs.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { ModelProvider } from "./models/model_provider.ts";
import {
  answerHumanRequest,
  expireHumanRequest,
  listHumanRequests,
  voidHumanRequest,
} from "./human/human_queue.ts";
import { newOid, ObjectMemory, type ObjectQuotas } from "./memory/object_memory.ts";
import { defaultObjectTypes, ObjectTypeRegistry } from "./memory/object_types.ts";
import {
  type AgentImage,
  type AgentImageInput,
  type GrantSpec,
  GrantSpecSchema,
} from "./images/schemas.ts";
import { validateImage } from "./images/image_loader.ts";
import { Scheduler } from "./process/scheduler.ts";
import { Mailboxes } from "./mailbox/mailboxes.ts";
import { ScriptedModel } from "./models/scripted_model.ts";
import { runQuantum } from "./process/step_loop.ts";
import { chargeLeftHolds } from "./process/model_reservation.ts";
import type { HostAuditRecord, ToolHost } from "./tool_host.ts";
import type { NetProvider } from "./substrate/net_provider.ts";
import type { ShellProvider } from "./substrate/shell_provider.ts";
import {
  type CheckpointDiff,
  createCheckpoint,
  diffCheckpoints,
  exportCheckpoint,
  forkCheckpoint,
  importBundle,
  readCheckpoint,
  restoreCheckpoint,
} from "./checkpoint/checkpoints.ts";
import { Syscalls } from "./engine/syscalls.ts";
import type {
  AuditQuery,
  ClaimedProcess,
  ClusterView,
  Fence,
  JournalQuery,
  Store,
  StoreSnapshot,
} from "./store/store.ts";
import { IdBlocks } from "./cluster/id_blocks.ts";
import { ClusterMembership } from "./cluster/membership.ts";
import {
  type ClusterNotice,
  type NoticeListener,
  noticesOf,
  type Notifier,
  notifierFor,
} from "./cluster/notifier.ts";
import { hasCode } from "./errors.ts";
import type {
  AuditEntry,
  AuditRecord,
  CheckpointInfo,
  CheckpointRecord,
  Decision,
  Grant,
  HumanRequest,
  HumanState,
  ImageRecord,
  JournalEntry,
  JournalKind,
  ObjectRecord,
  Pid,
  ProcessRecord,
  ProcessState,
  Retention,
  StoredAudit,
  WaitReason,
} from "./types.ts";
import { purgeDue, purgeProcess, resolveRetention } from "./retention/purge.ts";
import { decodeAudit } from "./audit/audit_chain.ts";
import { resolvePath } from "./substrate/workspace_path.ts";
import { primitiveTool, primitiveToolNames } from "./engine/primitive_tools.ts";
import { errorText, logLine, previewDigest } from "./human/preview.ts";

/** Options of {@linkcode Kernel.create}. */
export interface KernelOptions {
  /** The durable store (default: a new in-memory store). */
  store?: Store;
  /** The workspace filesystem (default: an empty in-memory filesystem). */
  filesystem?: FilesystemProvider;
  /** The clock (default: the system clock; tests pass a FakeClock). */
  clock?: Clock;
  /** Model providers besides the built-in scripted one. */
  models?: ModelProvider[];
  /** How many processes run a quantum at once (default 64). */
  concurrency?: number;
  /**
   * While processes wait in `receive`, look in the store for messages other
   * kernels stored every this many ms (default null: never; one kernel wakes
   * its receivers when it stores a message, and `onMessageStored` takes a
   * notice from elsewhere).
   */
  mailboxPollMs?: number | null;
  /** Object memory quotas (default: DEFAULT_OBJECT_QUOTAS). */
  objectQuotas?: Partial<ObjectQuotas>;
  /** The object type registry (default: defaultObjectTypes()). */
  objectTypes?: ObjectTypeRegistry;
  /** How long a human request stays open, in ms (default: no expiry). */
  humanTtlMs?: number | null;
  /** Whether to start scheduling at once (default true). */
  autostart?: boolean;
  /** Tools that run in the sandbox (tools folders, JIT tools); default none. */
  toolHost?: ToolHost;
  /** Deadline of one hosted tool call in ms (default 30,000). */
  toolDeadlineMs?: number;
  /** The network substrate for `net.fetch` (default none: fetch is refused). */
  net?: NetProvider;
  /** The shell substrate for `shell.run` (default none: run_shell is refused). */
  shell?: ShellProvider;
  /**
   * What ended processes keep (default "keep"); "purge_on_exit" purges every
   * process's bodies when it ends, whatever its image says (README "Retention").
   */
  retention?: Retention;
  /**
   * MCP servers the operator configured (default none): processes whose
   * image lists their tools get them; a stdio server starts per process
   * through `shell` (confined like a program). Closed with the kernel.
   */
  mcp?: McpClients;
  /**
   * Facts about this boot the operator chose (e.g. an unconfined shell),
   * recorded in the audit log as the boot's `kernel.boot` record.
   */
  boot?: Record<string, unknown>;
  /** How the kernel takes part in a cluster of kernels on one store (docs/cluster.md). */
  cluster?: ClusterOptions;
  /**
   * How kernels sharing the store tell each other what changed
   * (runtime/cluster/notifier.ts). Default: the store's LISTEN/NOTIFY when it
   * has one (PostgreSQL), else an in-process bus of this kernel alone. A
   * notifier passed here is the caller's to close.
   */
  notifier?: Notifier;
}

/** Options of a kernel's cluster membership (see docs/cluster.md). */
export interface ClusterOptions {
  /**
   * The lease's TTL in ms (default 5000): a kernel that has not heartbeaten
   * for this long is declared dead and its processes adopted. It heartbeats
   * every third of it.
   */
  leaseTtlMs?: number;
  /** The host name the registry shows (default: the OS's, else "unknown"). */
  host?: string;
  /** Ids reserved from the store at a time, per kind (default 256). */
  idBlockSize?: number;
  /**
   * Called once when the kernel's lease is lost (its writes fenced): it has
   * stopped and forgotten its processes; another kernel adopts them. A
   * server exits here.
   */
  onFenced?: (error: unknown) => void;
}

/** The kinds of ids the kernel takes from the store. */
const _ID_KINDS = ["pid", "grant", "human", "checkpoint", "boot", "message"] as const;

export type { Actor, ForkRequest, HumanDecision, Signal, SpawnRequest } from "./kernel_core.ts";

const OPERATOR_ROOT = "operator";

/** The Agent libOS kernel. */
export class Kernel implements KernelCore, AsyncDisposable {
  readonly store: Store;
  readonly fs: FilesystemProvider;
  readonly clock: Clock;
  readonly images: ImageRegistry = new ImageRegistry();
  readonly objectTypes: ObjectTypeRegistry;
  readonly objects: ObjectMemory;
  readonly grants: GrantTable = new GrantTable();
  /** The one place rights are decided (primitives, model calls, the sandbox). */
  readonly authorizer: Authorizer;
  readonly events: EventBus = new EventBus();
  readonly humanTtlMs: number | null;
  /** The sandbox's tools, when the kernel has a sandbox. */
  readonly toolHost: ToolHost | null;
  /** Deadline of one hosted tool call, in ms. */
  readonly toolDeadlineMs: number;
  /** The network substrate, if any. */
  readonly net: NetProvider | null;
  /** The shell substrate, if any. */
  readonly shell: ShellProvider | null;
  /** The kernel's retention setting: a floor under every image's. */
  readonly retention: Retention;
  /** The MCP servers and sessions, if any. */
  readonly mcp: McpClients | null;
  /** @internal */
  readonly _procs = new Map<Pid, ProcessRecord>();
  /** @internal */
  readonly _live = new Map<Pid, _Live>();
  /** @internal */
  readonly _human = new Map<string, HumanRequest>();
  /** @internal */
  readonly _models = new Map<string, ModelProvider>();
  /** Idempotent commands of the control plane (records kept in the store). */
  readonly commands: CommandLedger;
  /** @internal */
  readonly _scheduler: Scheduler;
  /** @internal */
  readonly _mailboxes: Mailboxes;
  #journalHeads = new Map<Pid, number>();
  #audit: AuditChain;
  /** This kernel's id and lease epoch: every write carries it. */
  readonly #fence: Fence;
  #ids: IdBlocks;
  #membership: ClusterMembership | null = null;
  /** Notices between the kernels of the store, and whether this kernel opened it. */
  readonly notifier: Notifier;
  #ownNotifier: boolean;
  #noticeSub: Disposable | null = null;
  #fenced = false;
  readonly #cluster: ClusterOptions;
  #timers = new Map<string, Disposable>();
  #closed = false;
  #fatal: unknown = null;
  readonly #bootFacts: Record<string, unknown>;
  #meta: Record<string, unknown> = {};
  /** Purges in flight, by pid. */
  #purges = new Map<Pid, Promise<void>>();

  private constructor(
    options: KernelOptions,
    store: Store,
    audit: AuditChain,
    cluster: { fence: Fence; ids: IdBlocks; notifier: Notifier; ownNotifier: boolean },
  ) {
    this.store = store;
    this.notifier = cluster.notifier;
    this.#ownNotifier = cluster.ownNotifier;
    this.#fence = cluster.fence;
    this.#ids = cluster.ids;
    this.#cluster = options.cluster ?? {};
    this.fs = options.filesystem ?? new MemoryFilesystem();
    this.clock = options.clock ?? systemClock;
    this.authorizer = new Authorizer(this.grants, this.clock);
    this.objectTypes = options.objectTypes ?? defaultObjectTypes();
    this.objects = new ObjectMemory(options.objectQuotas ?? {});
    this.humanTtlMs = options.humanTtlMs ?? null;
    this.toolHost = options.toolHost ?? null;
    this.toolDeadlineMs = options.toolDeadlineMs ?? 30_000;
    this.net = options.net ?? null;
    this.shell = options.shell ?? null;
    if (options.retention !== undefined && !["keep", "purge_on_exit"].includes(options.retention)) {
      throw new TypeError(
        `Cannot create a kernel: retention must be "keep" or "purge_on_exit", got ${
          JSON.stringify(options.retention)
        }`,
      );
    }
    this.retention = options.retention ?? "keep";
    this.mcp = options.mcp ?? null;
    this.#audit = audit;
    this.#bootFacts = { ...options.boot };
    for (const m of [new ScriptedModel(), ...(options.models ?? [])]) this._models.set(m.name, m);
    this.toolHost?.attach?.((pid, record) => this.#hostAudit(pid, record));
    this.commands = new CommandLedger(store, (mutations) => {
      const batch = new Batch();
      for (const m of mutations) batch.add(m);
      return this._commit(batch);
    }, () => this.clock.now());
    this._mailboxes = new Mailboxes({
      store,
      clock: this.clock,
      wake: (pid) => this.#wakeFromMail(pid),
      pollMs: options.mailboxPollMs ?? null,
    });
    this._scheduler = new Scheduler({
      concurrency: options.concurrency ?? 64,
      // A quantum's audit records take seqs synchronously: on a shared store
      // they are ready before it starts (a no-op on a store of one kernel).
      run: (pid) => {
        const needs = { audit: 256 };
        if (this.#ids.has(needs)) return runQuantum(this, pid);
        return (async () => {
          for (let i = 0; i < 1_000 && !this.#ids.has(needs); i++) await this.#ids.ready(needs);
          return await runQuantum(this, pid);
        })();
      },
      onError: (pid, error) => this._panic(pid, error),
    });
  }

  /** Boots a kernel: loads the store's state and resumes live processes. */
  static async create(options: KernelOptions = {}): Promise<Kernel> {
    const store = options.store ?? new MemoryStore();
    const ttlMs = options.cluster?.leaseTtlMs ?? 5000;
    if (!(Number.isSafeInteger(ttlMs) && ttlMs >= 30)) {
      throw new RangeError(
        `Cannot create a kernel: leaseTtlMs must be an integer >= 30, got ${ttlMs}`,
      );
    }
    // Every boot is a new kernel: a store held by one kernel at a time ends
    // the previous one here; a shared store keeps the others alive.
    const fence = await store.registerKernel({
      host: options.cluster?.host ?? _hostname(),
      pid: Deno.pid,
      ttlMs,
    });
    // On a shared store the new kernel first claims the processes of kernels
    // that stopped or died (or of none), then loads what it owns.
    let claimed: ClaimedProcess[] = [];
    if (store.shared) {
      for (let i = 0; i < 4096; i++) {
        const chunk = await store.claimProcesses(fence, { limit: 1024 });
        if (chunk.length === 0) break;
        claimed = claimed.concat(chunk);
      }
    }
    const snap = await store.load(store.shared ? { owner: fence.kernel } : {});
    const ids = new IdBlocks(store, {
      ...(options.cluster?.idBlockSize === undefined
        ? {}
        : { blockSize: options.cluster.idBlockSize }),
      onError: (e) => console.error(logLine(`libos: reserving ids: ${errorText(e)}`)),
      reset: !store.shared,
      local: !store.shared,
    });
    await ids.prime(
      store.shared ? [..._ID_KINDS, "audit"] : _ID_KINDS,
      _idFloors(snap, store.shared),
    );
    // A shared store holds one audit chain per kernel (docs/cluster.md).
    const audit = store.shared
      ? new AuditChain({ head: null, nextSeq: () => ids.next("audit") })
      : new AuditChain({ head: snap.auditHead });
    const notifier = options.notifier ?? await notifierFor(store);
    const kernel = new Kernel(options, store, audit, {
      fence,
      ids,
      notifier,
      ownNotifier: options.notifier === undefined,
    });
    kernel.#noticeSub = notifier.subscribe((n) => kernel.#onNotice(n));
    // An image stored before retention existed kept everything.
    for (const r of snap.images) r.image.retention ??= "keep";
    kernel.images.load(snap.images);
    kernel.grants.load(snap.grants);
    kernel.objects.load(snap.objects);
    for (const r of snap.human) {
      // A request stored before digests were kept gets its digest now.
      if (
        (typeof r.previewSha256 !== "string" || r.previewSha256 === "") &&
        typeof r.preview === "string"
      ) {
        r.previewSha256 = previewDigest({ preview: r.preview, actionHash: r.actionHash });
      }
      kernel._human.set(r.id, r);
    }
    for (const [pid, seq] of Object.entries(snap.journalHeads)) kernel.#journalHeads.set(pid, seq);
    kernel.#meta = { ...snap.meta };
    for (const p of snap.processes) {
      // A record stored before retention existed kept everything.
      p.retention ??= "keep";
      p.purgedAt ??= null;
      kernel._adopt(p);
    }
    // After a crash (no clean shutdown recorded), every process resumed in
    // the middle of its work counts a recovery: see runQuantum. On a shared
    // store, a process counts one when the kernel it came from died.
    const crashed = store.shared
      ? new Set(claimed.filter((c) => !c.clean).map((c) => c.pid))
      : null;
    const localCrash = kernel.#meta["shutdown"] !== "clean" && kernel._procs.size > 0;
    await kernel.#recover([...kernel._procs.values()], {
      boot: true,
      crashed: (pid) => crashed === null ? localCrash : crashed.has(pid),
    });
    if (options.autostart !== false) kernel._scheduler.start();
    if (store.shared) {
      kernel.#membership = new ClusterMembership(store, fence, {
        ttlMs,
        adopt: (chunk) => kernel.#adoptClaimed(chunk),
        fenced: (error) => kernel.#onFenced(error),
        failed: (error) =>
          console.error(
            logLine(`libos: cluster heartbeat of ${fence.kernel}: ${errorText(error)}`),
          ),
      });
      kernel.#membership.start();
    }
    return kernel;
  }

  /**
   * A notice from the cluster: a message stored by another kernel wakes this
   * kernel's receivers of its channel (they re-read the store and claim).
   */
  #onNotice(n: ClusterNotice): void {
    if (n.kernel === this.#fence.kernel || this.#closed || this.#fenced) return;
    if (n.kind === "message") this._mailboxes.stored(n.channel);
  }

  /**
   * Listens to the notices of every kernel of the store (this one's too):
   * process states, human requests, messages, forwarded commands.
   */
  onNotice(listener: NoticeListener): Disposable {
    return this.notifier.subscribe(listener);
  }

  /** Whether the kernel lost its lease (its writes fenced; it stopped). */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** This kernel's id in the store's registry (`k_N`, new at every boot). */
  get kernelId(): string {
    return this.#fence.kernel;
  }

  /** Every kernel of the store, its lease and its load (the store's view). */
  cluster(): Promise<ClusterView & { self: string }> {
    return this.store.listKernels().then((view) => ({ ...view, self: this.#fence.kernel }));
  }

  /**
   * Resumes processes claimed from a dead or stopped kernel, as boot recovery
   * resumes them: their grants, human requests, objects, images and journal
   * heads are loaded from the store first.
   */
  async #adoptClaimed(claimed: ClaimedProcess[]): Promise<void> {
    if (this.#fenced || this.#closed) return;
    const part = await this.store.load({ pids: claimed.map((c) => c.pid) });
    for (const r of part.images) r.image.retention ??= "keep";
    this.images.load(part.images.filter((r) => !this.images.has(r.id)));
    for (const g of part.grants) this.grants.put(g);
    for (const o of part.objects) {
      const known = this.objects.get(o.oid);
      if (known === undefined || known.version < o.version) {
        this.objects.delete(o.oid);
        this.objects.load([o]);
      }
    }
    for (const r of part.human) this._human.set(r.id, r);
    for (const [pid, seq] of Object.entries(part.journalHeads)) this.#journalHeads.set(pid, seq);
    const crashed = new Set(claimed.filter((c) => !c.clean).map((c) => c.pid));
    const from = new Map(claimed.map((c) => [c.pid, c.from]));
    const procs: ProcessRecord[] = [];
    for (const p of part.processes) {
      p.retention ??= "keep";
      p.purgedAt ??= null;
      this._adopt(p);
      procs.push(p);
    }
    await this.#recover(procs, {
      boot: false,
      crashed: (pid) => crashed.has(pid),
      adoptedFrom: from,
    });
  }

  /**
   * The lease is lost: another kernel adopts (or has adopted) this kernel's
   * processes, so it stops scheduling them and forgets them. Its writes are
   * refused from now on, and since an effect runs only after its intent is
   * committed, none of its effects starts after the fence.
   */
  #onFenced(error: unknown): void {
    if (this.#fenced) return;
    this.#fenced = true;
    if (this.#fatal === null) this.#fatal = error;
    const count = this._procs.size;
    console.error(
      logLine(
        `libos: kernel ${this.#fence.kernel} fenced (${errorText(error)}): ` +
          `stopping and dropping its ${count} processes; another kernel adopts them`,
      ),
    );
    void (async () => {
      await this.#membership?.stop();
      await this._scheduler.stop();
      for (const t of this.#timers.values()) t[Symbol.dispose]();
      this.#timers.clear();
      this._procs.clear();
      this._live.clear();
      this._human.clear();
      this.#cluster.onFenced?.(error);
    })();
  }

  // ---------------------------------------------------------------- commit

  /** @internal Commits a batch; a store failure stops the kernel. */
  async _commit(batch: Batch, behind = false): Promise<void> {
    if (batch.empty) return;
    const mutations = batch.mutations.splice(0);
    if (batch.counters) {
      // The ids given as they stand now: batches land in the order they
      // commit, so the stored counters only ever grow.
      batch.counters = false;
      mutations.push({ kind: "meta.put", key: "counters", value: { ...this.#ids.given } });
    }
    for (const p of batch.processes.values()) mutations.push({ kind: "process.put", process: p });
    batch.processes.clear();
    // Audit records are chained now, as the batch is handed to the store: the
    // chain's order is the order batches land in (no gap after a crash).
    for (const a of batch.audits.splice(0)) {
      a.stored = this.#audit.append(a.entry);
      mutations.push({ kind: "audit.append", record: a.stored });
    }
    // The first batch of an idempotent command carries its record.
    if (mutations.length > 0) stampCommand(mutations);
    const after = batch.afterCommit.splice(0);
    if (mutations.length > 0) {
      try {
        await this.store.apply(
          mutations,
          behind ? { fence: this.#fence, behind } : { fence: this.#fence },
        );
      } catch (error) {
        if (hasCode(error, "EFENCED")) this.#onFenced(error);
        else this._panic(null, error);
        throw error;
      }
      if (this.store.shared) this.notifier.publish(noticesOf(this.#fence.kernel, mutations));
    }
    for (const fn of after) fn();
  }

  /**
   * @internal Commits a batch without waiting for it to be durable. Batches
   * land in the order they are handed over, and every effect that leaves the
   * kernel waits for a commit of its own first, so nothing outside sees an
   * effect before this batch is durable; a crash before it is replayed
   * exactly as one during the calls it records. Only for a batch whose
   * syscalls are all safe to redo (not {@linkcode Batch.mustAwait}). A
   * failure is handled as in `_commit` (fenced, or a kernel fault). The
   * process `runnable`, which the batch leaves runnable, is queued to run
   * again at once.
   */
  _commitBehind(batch: Batch, runnable: Pid): void {
    batch.scheduled.add(runnable);
    this._commit(batch, true).catch(() => {});
    this._scheduler.enqueue(runnable);
  }

  /** @internal A kernel bug or a store failure: stop scheduling, keep state. */
  _panic(pid: Pid | null, error: unknown): void {
    if (this.#fatal === null) this.#fatal = error;
    console.error(
      logLine(
        `libos: kernel fault${pid === null ? "" : ` while running ${pid}`}: ${errorText(error)}`,
      ),
    );
    this._scheduler.stop();
  }

  /**
   * @internal The next id of a kind (`pid`, `grant`, `human`, …), from a
   * block the store reserved: unique across every kernel of the store.
   */
  _nextId(kind: string, prefix: string, batch: Batch): string {
    const id = this.#ids.next(kind);
    // A store of one kernel also records the ids given, so that the next boot
    // restarts right after them (no gap after a crash).
    if (!this.store.shared) batch.counters = true;
    return `${prefix}${id}`;
  }

  /** @internal Appends an audit record to the batch. */
  _audit(
    batch: Batch,
    entry:
      & Omit<
        AuditEntry,
        "at" | "step" | "callId" | "detail" | "capabilityId" | "resource" | "decision" | "pid"
      >
      & Partial<AuditEntry>,
  ): void {
    const full: AuditEntry = {
      at: this.clock.now(),
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
    // Chained when the batch is handed to the store (_commit), in that order.
    const audit: { entry: AuditEntry; stored: StoredAudit | null } = { entry: full, stored: null };
    batch.audits.push(audit);
    if (this.events.size > 0) {
      batch.then(() =>
        this.events.emit({
          type: "audit",
          seq: audit.stored!.seq,
          action: full.action,
          pid: full.pid,
          decision: full.decision,
        })
      );
    }
  }

  /** @internal Appends a journal entry to the batch. */
  _journal(
    batch: Batch,
    pid: Pid,
    kind: JournalKind,
    data: Record<string, unknown>,
    where: { turn?: number | null; callId?: string | null; sys?: number | null } = {},
  ): JournalEntry {
    const seq = (this.#journalHeads.get(pid) ?? 0) + 1;
    this.#journalHeads.set(pid, seq);
    const entry: JournalEntry = {
      pid,
      seq,
      at: this.clock.now(),
      kind,
      turn: where.turn ?? null,
      callId: where.callId ?? null,
      sys: where.sys ?? null,
      data,
    };
    batch.add({ kind: "journal.append", entry });
    return entry;
  }

  /** @internal Writes the process record into the batch. */
  _saveProcess(batch: Batch, p: ProcessRecord): void {
    p.updatedAt = this.clock.now();
    batch.processes.set(p.pid, p);
  }

  /** @internal Writes a grant into the batch. */
  _saveGrant(batch: Batch, g: Grant): void {
    this.grants.put(g);
    batch.add({ kind: "grant.put", grant: g });
  }

  /** @internal Writes a human request into the batch and announces it. */
  _saveHuman(batch: Batch, r: HumanRequest): void {
    this._human.set(r.id, r);
    batch.add({ kind: "human.put", request: r });
    if (this.events.size > 0) {
      const copy = structuredClone(r);
      batch.then(() => this.events.emit({ type: "human", request: copy }));
    }
  }

  // ------------------------------------------------------------- lifecycle

  /** @internal The live record (throws ENOENT). */
  _proc(pid: Pid): ProcessRecord {
    const p = this._procs.get(pid);
    if (p === undefined) {
      throw libosError("ENOENT", `Cannot find process '${pid}': no such process`, { pid });
    }
    return p;
  }

  /** @internal In-memory state of a process. */
  _liveOf(pid: Pid): _Live {
    let live = this._live.get(pid);
    if (live === undefined) {
      live = {
        messages: null,
        replay: new Map(),
        abort: null,
        committed: this._procs.get(pid)?.state ?? "created",
        probation: false,
      };
      this._live.set(pid, live);
    }
    return live;
  }

  /** @internal Moves a process to a new state inside a batch. */
  _transition(
    batch: Batch,
    p: ProcessRecord,
    to: ProcessState,
    options: { reason?: string | null; wait?: WaitReason | null; actor?: string } = {},
  ): void {
    const from = p.state;
    assertTransition(p.pid, from, to);
    p.state = to;
    p.wait = to === "waiting" ? options.wait ?? null : to === "suspended" ? p.wait : null;
    if (options.reason !== undefined) p.reason = options.reason;
    const now = this.clock.now();
    if (to === "running" && p.startedAt === null) p.startedAt = now;
    if (isTerminal(to)) {
      p.endedAt = now;
      p.cursor = null;
    }
    this._saveProcess(batch, p);
    // "running" ⇄ "runnable" happen every quantum: they are in the process
    // record, not worth a journal or audit entry each.
    const routine = (from === "runnable" && to === "running") ||
      (from === "running" && to === "runnable");
    if (!routine) {
      this._journal(batch, p.pid, "lifecycle", {
        from,
        to,
        reason: p.reason,
        wait: p.wait,
      });
      this._audit(batch, {
        actor: options.actor ?? "kernel",
        action: `process.${to}`,
        pid: p.pid,
        detail: { from, reason: options.reason ?? null, wait: p.wait },
      });
    }
    const reason = p.reason;
    batch.then(() => {
      this._liveOf(p.pid).committed = to;
      if (this.events.size > 0) {
        this.events.emit({ type: "process", pid: p.pid, from, state: to, reason });
      }
      if (to === "runnable" && !batch.scheduled.has(p.pid)) this._scheduler.enqueue(p.pid);
      if (isTerminal(to)) this.#onTerminal(p);
    });
  }

  /**
   * Writes an audit record the tool host made outside any run (a tool file a
   * scan refused, a message from a host between runs), in a batch of its own.
   */
  #hostAudit(pid: Pid | null, record: HostAuditRecord): void {
    if (this.#closed) return;
    const batch = new Batch();
    const known = pid !== null && this._procs.has(pid);
    this._audit(batch, {
      actor: "kernel:sandbox",
      action: record.action,
      pid: known ? pid : null,
      resource: record.resource ?? null,
      decision: record.decision ?? null,
      detail: known || pid === null ? record.detail : { ...record.detail, host: pid },
    });
    // A store failure stops the kernel (_commit panics); nothing more to do here.
    this._commit(batch).catch(() => {});
  }

  /**
   * A parent waiting on this child wakes; timers are cleared; the sandbox lets
   * go; a `purge_on_exit` process's bodies are purged.
   */
  #onTerminal(p: ProcessRecord): void {
    this.#clearTimer(p.pid);
    this._mailboxes.forget(p.pid);
    if (purgeDue(p)) void this.#purge(p.pid).catch((e) => this._panic(p.pid, e));
    void this.toolHost?.release?.(p.pid).catch((e) =>
      console.error(logLine(`libos: releasing ${p.pid}'s sandbox: ${errorText(e)}`))
    );
    void this.mcp?.release(p.pid);
    if (p.parentPid === null) return;
    const parent = this._procs.get(p.parentPid);
    if (parent?.state === "waiting" && parent.wait?.kind === "child" && parent.wait.pid === p.pid) {
      void this._wake(parent.pid, "child ended").catch((e) => this._panic(parent.pid, e));
    }
  }

  /**
   * Purges an ended process once its last quantum is over (one batch; see
   * runtime/retention/purge.ts). One purge per process at a time.
   */
  #purge(pid: Pid): Promise<void> {
    const running = this.#purges.get(pid);
    if (running !== undefined) return running;
    const done = (async () => {
      await this._scheduler.quantumOf(pid);
      await purgeProcess(this, pid);
    })().finally(() => this.#purges.delete(pid));
    this.#purges.set(pid, done);
    return done;
  }

  /**
   * Resolves when an ended `purge_on_exit` process's purge has committed (at
   * once when none is due or running).
   */
  async whenPurged(pid: Pid): Promise<void> {
    this._proc(pid);
    await this.#purges.get(pid);
  }

  /** @internal Wakes a waiting process so its pending call runs again. */
  async _wake(pid: Pid, why: string): Promise<void> {
    const p = this._procs.get(pid);
    if (p === undefined || p.state !== "waiting") return;
    const batch = new Batch();
    this._transition(batch, p, "runnable", { reason: null, actor: `kernel:${why}` });
    await this._commit(batch);
  }

  /** @internal Parks a running process on a wait reason (timers armed). */
  _park(batch: Batch, p: ProcessRecord, wait: WaitReason): void {
    this._transition(batch, p, "waiting", { wait, reason: null });
    if (wait.kind === "timer") batch.then(() => this.#armTimer(p.pid, wait.until));
    if (wait.kind === "message") {
      batch.then(() => {
        if (wait.until !== null) this.#armTimer(p.pid, wait.until);
        this._mailboxes.park(wait.channel, p.pid);
      });
    }
  }

  /**
   * A message on `channel` is durable: the receivers waiting on it on this
   * kernel wake and take it (one of them; the others wait again). A send on
   * this kernel calls it; a bridge from other kernels (LISTEN/NOTIFY) may too.
   */
  onMessageStored(channel: string): void {
    if (!this.#closed) this._mailboxes.stored(channel);
  }

  /** A receiver's channel got a message: its deadline timer goes, it runs again. */
  #wakeFromMail(pid: Pid): void {
    const p = this._procs.get(pid);
    if (p?.state !== "waiting" || p.wait?.kind !== "message") return;
    this.#clearTimer(pid);
    void this._wake(pid, "message").catch((e) => this._panic(pid, e));
  }

  #armTimer(pid: Pid, until: number): void {
    this.#clearTimer(pid);
    this.#timers.set(
      pid,
      this.clock.setTimer(until, () => {
        this.#timers.delete(pid);
        this._mailboxes.forget(pid);
        void this._wake(pid, "timer").catch((e) => this._panic(pid, e));
      }),
    );
  }

  #clearTimer(pid: Pid): void {
    const t = this.#timers.get(pid);
    if (t !== undefined) {
      this.#timers.delete(pid);
      t[Symbol.dispose]();
    }
  }

  /**
   * A durable setting kept with the kernel's state (e.g. the control plane's
   * hashed tokens); undefined when unset.
   */
  getMeta(key: string): unknown {
    const v = this.#meta[key];
    return v === undefined ? undefined : structuredClone(v);
  }

  /**
   * Stores a durable setting; resolves when it is committed. With `audit`,
   * that record (what the change means, e.g. `token.create`) is written
   * beside the `meta.put` record, in the same batch.
   */
  async putMeta(
    key: string,
    value: unknown,
    options: Actor & { audit?: { action: string; detail: Record<string, unknown> } } = {
      actor: OPERATOR_ROOT,
    },
  ): Promise<void> {
    if (key === "counters" || key.length === 0 || key.length > 200) {
      throw libosError("EINVAL", `Cannot set meta '${key}': reserved or malformed key`);
    }
    const batch = new Batch();
    this.#meta[key] = structuredClone(value);
    batch.add({ kind: "meta.put", key, value });
    this._audit(batch, { actor: options.actor, action: "meta.put", detail: { key } });
    if (options.audit !== undefined) {
      const { action, detail } = options.audit;
      this._audit(batch, { actor: options.actor, action, detail: structuredClone(detail) });
    }
    await this._commit(batch);
  }

  /**
   * Appends one audit record of a call served at the kernel's edge that
   * changes no state of its own (e.g. a control plane's MCP tool call, whose
   * effects the kernel audits besides); resolves when it is committed.
   */
  async recordAudit(
    entry: {
      action: string;
      pid?: Pid | null;
      resource?: string | null;
      decision?: Decision | null;
      detail?: Record<string, unknown>;
    },
    options: Actor,
  ): Promise<void> {
    if (!/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(entry.action) || entry.action.length > 128) {
      throw libosError(
        "EINVAL",
        `Cannot record audit action '${entry.action}': expected dotted lower-case words`,
      );
    }
    const batch = new Batch();
    this._audit(batch, {
      actor: options.actor,
      action: entry.action,
      pid: entry.pid ?? null,
      resource: entry.resource ?? null,
      decision: entry.decision ?? null,
      detail: structuredClone(entry.detail ?? {}),
    });
    await this._commit(batch);
  }

  /** Starts scheduling (for a kernel created with `autostart: false`). */
  start(): void {
    this._scheduler.start();
  }

  /** Registers an image (an operator action). */
  async registerImage(
    image: AgentImageInput,
    options: Actor & { source?: string } = { actor: OPERATOR_ROOT },
  ): Promise<ImageRecord> {
    const parsed = { data: validateImage(image, { source: options.source ?? "inline image" }) };
    for (const spec of parsed.data.capabilities) validateGrantSpec(spec, this.clock.now());
    await this.#withinCeiling(
      parsed.data.capabilities,
      options,
      `register image '${parsed.data.id}'`,
    );
    const before = this.images.versions(parsed.data.id).find((r) =>
      r.version === parsed.data.version
    );
    const record = this.images.register(parsed.data, {
      ...(options.source === undefined ? {} : { source: options.source }),
      now: this.clock.now(),
    });
    if (before !== record) {
      const batch = new Batch();
      batch.add({ kind: "image.put", image: record });
      this._audit(batch, {
        actor: options.actor,
        action: "image.register",
        detail: { id: record.id, version: record.version, source: record.source },
      });
      await this._commit(batch);
    }
    return record;
  }

  #imageOf(p: ProcessRecord): AgentImage {
    return this.images.get(p.imageId, p.imageVersion).image;
  }

  /** @internal The image a process runs. */
  _image(p: ProcessRecord): AgentImage {
    return this.#imageOf(p);
  }

  /**
   * Spawns a process for an operator: the image's capabilities and the
   * requested ones are granted as the operator issues them.
   */
  async spawn(
    request: SpawnRequest,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const p = await this._spawn(request, {
      actor: options.actor,
      ...(options.ceiling === undefined ? {} : { ceiling: options.ceiling }),
      parent: null,
      forkOf: null,
    });
    return structuredClone(p);
  }

  /**
   * Refuses (EPERM, audited as `authority.refuse` with the actor) grants
   * above the actor's ceiling; nothing else changes.
   */
  async #withinCeiling(specs: readonly GrantSpec[], who: Actor, what: string): Promise<void> {
    try {
      checkCeiling(specs, who.ceiling, { what, now: this.clock.now() });
    } catch (error) {
      if (!(error instanceof LibosError) || error.code !== "EPERM") throw error;
      const batch = new Batch();
      this._audit(batch, {
        actor: who.actor,
        action: "authority.refuse",
        resource: typeof error.fields["resource"] === "string" ? error.fields["resource"] : null,
        decision: "deny",
        detail: { what, ceiling: describeCeiling(who.ceiling ?? null) },
      });
      await this._commit(batch);
      throw error;
    }
  }

  /** @internal Spawns for the operator (parent null) or for a parent process. */
  async _spawn(
    request: SpawnRequest,
    options: {
      actor: string;
      ceiling?: Ceiling;
      parent: ProcessRecord | null;
      forkOf: ProcessRecord | null;
      batch?: Batch;
    },
  ): Promise<ProcessRecord> {
    if (typeof request.goal !== "string" || request.goal.length > 100_000) {
      throw libosError(
        "EINVAL",
        "Cannot spawn: 'goal' must be a string of at most 100,000 characters",
      );
    }
    const now = this.clock.now();
    const specs = (request.capabilities ?? []).map((s, i) => {
      const parsed = GrantSpecSchema.safeParse(s);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw libosError(
          "EINVAL",
          `Cannot spawn: capabilities[${i}].${issue?.path.join(".") ?? ""}: ${issue?.message}`,
          { field: `capabilities[${i}]` },
        );
      }
      return validateGrantSpec(parsed.data, now);
    });
    const who: Actor = {
      actor: options.actor,
      ...(options.ceiling === undefined ? {} : { ceiling: options.ceiling }),
    };
    // A registered image's grants were checked against its registrar's
    // ceiling; an inline one is checked now, and so is every extra grant.
    if (options.parent === null) await this.#withinCeiling(specs, who, "spawn");
    let imageRecord: ImageRecord;
    if (typeof request.image === "string") {
      imageRecord = this.images.get(request.image);
    } else {
      imageRecord = await this.registerImage(request.image, who);
    }
    const image = imageRecord.image;
    const parent = options.parent;
    // A requested cwd is relative to the parent's; none means the parent's own.
    const cwd = request.cwd === undefined
      ? parent?.cwd ?? ""
      : resolvePath(parent?.cwd ?? "", request.cwd);
    if (parent !== null) {
      const limit = parent.budgets.children;
      if (limit !== undefined && parent.usage.children >= limit) {
        throw libosError(
          "EBUDGET",
          `Cannot spawn a child of ${parent.pid}: its children budget (${limit}) is spent`,
          { pid: parent.pid },
        );
      }
    }
    // The ids taken below, ready at once (a burst of spawns on a shared store
    // waits here for a refill instead of running its block dry).
    const needs = {
      pid: 1,
      grant: image.capabilities.length + specs.length + 4,
      audit: image.capabilities.length + specs.length + 8,
    };
    for (let i = 0; i < 1_000 && !this.#ids.has(needs); i++) await this.#ids.ready(needs);
    const batch = options.batch ?? new Batch();
    const pid = this._nextId("pid", "p_", batch);
    // Grants first (they may throw EPERM): nothing is stored until all pass.
    const grants: Grant[] = [];
    const nextGrantId = () => this._nextId("grant", "g_", batch);
    const dropped: GrantSpec[] = [];
    const drawn: [Grant, number][] = [];
    if (parent === null) {
      for (const spec of [...image.capabilities, ...specs]) {
        grants.push(
          issueGrant(spec, { subject: pid, issuedBy: options.actor, now, nextId: nextGrantId }),
        );
      }
    } else {
      // A child gets the image's grants the parent can delegate (the others
      // are dropped and audited) and every grant asked for explicitly, or
      // the spawn is refused.
      const held = this.grants.of(parent.pid);
      // A child's one-time uses are drawn from its parent's: one pool for the tree.
      const issue = {
        subject: pid,
        issuedBy: `pid:${parent.pid}`,
        now,
        nextId: nextGrantId,
        draw: (g: Grant, uses: number) => {
          g.uses = (g.uses ?? 0) - uses;
          drawn.push([g, uses]);
        },
      };
      try {
        if (options.forkOf === null) {
          for (const spec of image.capabilities) {
            try {
              grants.push(...delegate(held, spec, issue));
            } catch (error) {
              if (!(error instanceof LibosError && error.code === "EPERM")) throw error;
              dropped.push(spec);
            }
          }
        }
        for (const spec of specs) grants.push(...delegate(held, spec, issue));
      } catch (error) {
        for (const [g, uses] of drawn) g.uses = (g.uses ?? 0) + uses;
        throw error;
      }
    }
    const src = options.forkOf;
    const p: ProcessRecord = {
      pid,
      parentPid: parent?.pid ?? null,
      lineage: parent === null ? [] : [...parent.lineage, parent.pid],
      imageId: image.id,
      imageVersion: image.version,
      goal: request.goal,
      forkedFrom: src?.pid ?? null,
      state: "created",
      wait: null,
      suspendedFrom: null,
      cwd: src?.cwd ?? cwd,
      tools: src !== null ? [...src.tools] : this._expandTools(image.tools),
      // A fork keeps its parent's registered JIT tools (same tool table).
      jitTools: src !== null ? src.jitTools.filter((t) => t.registered).map((t) => ({ ...t })) : [],
      budgets: { ...image.budgets },
      usage: {
        steps: 0,
        toolCalls: 0,
        tokens: 0,
        children: 0,
        costMicroUsd: 0,
        subtreeTokens: 0,
        subtreeCostMicroUsd: 0,
        reservedTokens: 0,
        reservedCostMicroUsd: 0,
        subtreeReservedTokens: 0,
        subtreeReservedCostMicroUsd: 0,
        invalidTurns: 0,
      },
      cursor: null,
      recoveries: 0,
      result: null,
      reason: null,
      retention: resolveRetention(this.retention, image.retention, parent?.retention),
      purgedAt: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      endedAt: null,
    };
    this._procs.set(pid, p);
    this._liveOf(pid);
    if (parent !== null) {
      parent.usage.children += 1;
      this._saveProcess(batch, parent);
    }
    this._saveProcess(batch, p);
    for (const g of grants) this._saveGrant(batch, g);
    for (const [g] of drawn) this._saveGrant(batch, g);
    this._journal(batch, pid, "lifecycle", {
      from: null,
      to: "created",
      goal: request.goal,
      image: `${image.id}@${image.version}`,
    });
    this._audit(batch, {
      actor: options.actor,
      action: src === null ? "proc.spawn" : "proc.fork",
      pid,
      detail: {
        parent: parent?.pid ?? null,
        image: `${image.id}@${image.version}`,
        grants: grants.map((g) => ({
          id: g.id,
          resource: g.resource,
          rights: g.rights,
          effect: g.effect,
        })),
        dropped: dropped.map((d) => ({ resource: d.resource, rights: d.rights })),
      },
    });
    // Seed memory: the image's objects in the process namespace.
    for (const seed of src === null ? image.memory : []) {
      this._putObject(batch, {
        namespace: `proc/${pid}`,
        name: seed.name,
        type: seed.type,
        payload: seed.payload,
        provenance: { pid, step: null },
      });
    }
    this._transition(batch, p, "runnable", { actor: options.actor });
    if (options.batch === undefined) await this._commit(batch);
    return p;
  }

  /** @internal Whether a tool of this name exists already (a primitive or a hosted tool). */
  _isToolName(name: string): boolean {
    return primitiveTool(name) !== undefined || this.toolHost?.tool(name) !== undefined;
  }

  /** @internal Takes a checkpoint inside a process's tool call (see the checkpoint primitive). */
  _checkpoint(
    pid: Pid,
    options: Parameters<typeof createCheckpoint>[2],
  ): Promise<CheckpointInfo> {
    return createCheckpoint(this, pid, options);
  }

  /**
   * @internal Expands an image's tool table: `*` patterns over the primitive
   * tools and the tool host's tools.
   */
  _expandTools(names: readonly string[]): string[] {
    const known = [...primitiveToolNames(), ...(this.toolHost?.names() ?? [])];
    const out = new Set<string>();
    for (const n of names) {
      if (n.includes("*")) {
        const re = new RegExp(`^${n.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
        for (const t of known) if (re.test(t)) out.add(t);
      } else out.add(n);
    }
    return [...out];
  }

  /** @internal Creates or writes an object version into the batch. */
  _putObject(
    batch: Batch,
    input: {
      namespace: string;
      name: string;
      type: string;
      payload: unknown;
      provenance: { pid: Pid | null; step: number | null };
      links?: { rel: string; oid: string }[];
      oid?: string;
    },
  ): ObjectRecord {
    const payload = this.objectTypes.validate(input.type, input.payload);
    const text = JSON.stringify(payload);
    const prev = input.oid !== undefined
      ? this.objects.get(input.oid)
      : this.objects.find(input.namespace, input.name);
    const now = this.clock.now();
    const record: ObjectRecord = {
      oid: prev?.oid ?? input.oid ?? newOid(),
      namespace: input.namespace,
      name: input.name,
      type: input.type,
      payload,
      version: (prev?.version ?? 0) + 1,
      links: input.links ?? prev?.links ?? [],
      provenance: input.provenance,
      size: new TextEncoder().encode(text ?? "null").length,
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
    };
    this.objects.checkQuota(record, prev);
    this.objects.put(record);
    batch.add({ kind: "object.put", object: record });
    return record;
  }

  /** Forks a process for an operator. */
  async fork(
    pid: Pid,
    request: ForkRequest,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const parent = this._proc(pid);
    await this.#withinCeiling(request.capabilities ?? [], options, `fork ${pid}`);
    const child = await this._fork(parent, request, { actor: options.actor });
    return structuredClone(child);
  }

  /**
   * @internal Fork: same image, cwd and tools; named grants; objects shared
   * read-only. With `batch`, the child is made in it and nothing is committed.
   */
  async _fork(
    parent: ProcessRecord,
    request: ForkRequest,
    options: { actor: string; batch?: Batch },
  ): Promise<ProcessRecord> {
    const actor = options.actor;
    if (isTerminal(parent.state)) {
      throw libosError("ESTATE", `Cannot fork process ${parent.pid}: it is ${parent.state}`, {
        pid: parent.pid,
      });
    }
    const shared: ObjectRecord[] = [];
    for (const ref of request.objects ?? []) {
      const o = this.objects.get(ref) ?? this.objects.find(`proc/${parent.pid}`, ref) ??
        _findQualified(this.objects, ref);
      if (o === undefined || (o.namespace !== `proc/${parent.pid}`)) {
        throw libosError(
          "ENOENT",
          `Cannot share object '${ref}' with a fork: ${parent.pid} has no such object in its namespace`,
          { pid: parent.pid },
        );
      }
      shared.push(o);
    }
    const caps: GrantSpec[] = [
      ...(request.capabilities ?? []),
    ];
    const batch = options.batch ?? new Batch();
    const child = await this._spawn(
      {
        image: parent.imageId,
        goal: request.goal,
        capabilities: caps,
      },
      { actor, parent, forkOf: parent, batch },
    );
    // The parent's own namespace is implicit for the parent only: the child
    // gets a read grant for exactly the objects named.
    for (const o of shared) {
      this._saveGrant(batch, {
        id: this._nextId("grant", "g_", batch),
        subject: child.pid,
        resource: `obj:${o.namespace}/${o.name}`,
        rights: ["read"],
        effect: "allow",
        uses: null,
        expiresAt: null,
        delegable: false,
        parentId: null,
        issuedBy: `pid:${parent.pid}`,
        revoked: false,
        createdAt: this.clock.now(),
      });
    }
    if (options.batch === undefined) await this._commit(batch);
    return child;
  }

  /** Replaces a process's image; capabilities never grow. */
  async exec(
    pid: Pid,
    image: string | AgentImageInput,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const p = this._proc(pid);
    if (isTerminal(p.state)) {
      throw libosError("ESTATE", `Cannot exec in process ${pid}: it is ${p.state}`, { pid });
    }
    const record = typeof image === "string"
      ? this.images.get(image)
      : await this.registerImage(image, options);
    const batch = new Batch();
    p.imageId = record.id;
    p.imageVersion = record.version;
    p.tools = this._expandTools(record.image.tools);
    p.jitTools = [];
    p.cursor = null;
    p.usage.steps = 0;
    p.budgets = { ...record.image.budgets };
    p.retention = resolveRetention(p.retention, record.image.retention);
    const live = this._liveOf(pid);
    live.messages = null;
    this._journal(batch, pid, "lifecycle", { exec: `${record.id}@${record.version}` });
    this._saveProcess(batch, p);
    this._audit(batch, {
      actor: options.actor,
      action: "proc.exec",
      pid,
      detail: { image: `${record.id}@${record.version}` },
    });
    await this._commit(batch);
    return structuredClone(p);
  }

  /**
   * Sends a signal. `pause` and `resume` apply to the whole subtree;
   * `cancel` and `kill` end the process and every live descendant
   * (`killed`, with the reason).
   */
  async signal(
    pid: Pid,
    signal: Signal,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const batch = new Batch();
    const p = this._signal(batch, pid, signal, options.actor);
    await this._commit(batch);
    return structuredClone(p);
  }

  /** @internal Signals in `batch` (committed by the caller); returns the live record. */
  _signal(batch: Batch, pid: Pid, signal: Signal, actor: string): ProcessRecord {
    const options = { actor };
    const p = this._proc(pid);
    if (!["pause", "resume", "cancel", "kill"].includes(signal)) {
      throw libosError(
        "EINVAL",
        `Cannot signal ${pid}: unknown signal '${
          String(signal)
        }' (expected pause, resume, cancel or kill)`,
      );
    }
    const subtree = [p, ...this.#descendants(pid)];
    switch (signal) {
      case "pause": {
        if (p.state === "suspended" || isTerminal(p.state)) {
          assertTransition(pid, p.state, "suspended");
        }
        for (const q of subtree) {
          if (q.state === "suspended" || isTerminal(q.state)) continue;
          q.suspendedFrom = q.state === "running" ? "runnable" : q.state;
          this._transition(batch, q, "suspended", {
            actor: options.actor,
            reason: `paused by ${options.actor}`,
          });
          this._liveOf(q.pid).abort?.abort(libosError("ECANCELED", `process ${q.pid} was paused`));
        }
        break;
      }
      case "resume": {
        if (p.state !== "suspended") {
          throw libosError(
            "ESTATE",
            `Cannot resume process ${pid}: it is ${p.state}, not suspended`,
            { pid },
          );
        }
        for (const q of subtree) {
          if (q.state !== "suspended") continue;
          const back = q.suspendedFrom ?? "runnable";
          q.suspendedFrom = null;
          // A timer that fired while suspended, or a child that ended, wakes at once.
          const target: ProcessState = back === "waiting" && this.#waitSatisfied(q)
            ? "runnable"
            : back;
          this._transition(batch, q, target === "created" ? "runnable" : target, {
            actor: options.actor,
            reason: null,
            wait: q.wait,
          });
          if (target === "waiting" && q.wait?.kind === "timer") {
            const until = q.wait.until;
            batch.then(() => this.#armTimer(q.pid, until));
          }
        }
        break;
      }
      case "cancel":
      case "kill": {
        if (isTerminal(p.state)) assertTransition(pid, p.state, "killed");
        const reason = signal === "kill"
          ? `killed by ${options.actor}`
          : `cancelled by ${options.actor}`;
        for (const q of subtree.reverse()) {
          if (isTerminal(q.state)) continue;
          this._transition(batch, q, "killed", {
            actor: options.actor,
            reason: q === p ? reason : `${reason} (ancestor ${pid})`,
          });
          this._liveOf(q.pid).abort?.abort(
            libosError(
              "ECANCELED",
              `process ${q.pid} was ${signal === "kill" ? "killed" : "cancelled"}`,
            ),
          );
          this.#voidRequests(batch, q.pid, `process ${q.pid} ended`);
        }
        break;
      }
    }
    return p;
  }

  #waitSatisfied(p: ProcessRecord): boolean {
    const w = p.wait;
    if (w === null) return true;
    switch (w.kind) {
      case "timer":
        return this.clock.now() >= w.until;
      case "child": {
        const c = this._procs.get(w.pid);
        return c === undefined || isTerminal(c.state);
      }
      case "human": {
        const r = this._human.get(w.requestId);
        return r === undefined || r.state !== "pending";
      }
      case "event":
        return false;
      // The receive runs again: it takes a message stored meanwhile (by
      // this kernel or another), or waits again.
      case "message":
        return true;
    }
  }

  #descendants(pid: Pid): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    for (const q of this._procs.values()) if (q.lineage.includes(pid)) out.push(q);
    return out;
  }

  #voidRequests(batch: Batch, pid: Pid, why: string): void {
    for (const r of this._human.values()) {
      if (r.pid === pid) voidHumanRequest(this, batch, r.id, why);
    }
  }

  /**
   * Runs syscalls on behalf of a live process outside its step loop (the seam
   * for program images and the sandbox's syscall proxy): every call goes
   * through the same primitives, journal and audit; the batch commits before
   * this resolves. A call that must wait parks the process and rejects with
   * `EWAITING`.
   */
  async invoke<T>(pid: Pid, fn: (sys: Syscalls) => Promise<T>): Promise<T> {
    const p = this._proc(pid);
    if (isTerminal(p.state)) {
      throw libosError("ESTATE", `Cannot run a syscall for process ${pid}: it is ${p.state}`, {
        pid,
      });
    }
    const batch = new Batch();
    // `x<boot>.<n>`: the boot number is persisted once per boot, so no call id is reused after
    // a restart and no invocation writes more than its own records.
    const callId = `x${this.#boot}.${++this.#invocations}`;
    const sys = new Syscalls(this, p, {
      batch,
      callId,
      turn: p.cursor?.turn ?? 0,
      replay: new Map(),
    });
    try {
      return await fn(sys);
    } finally {
      await this._commit(batch);
    }
  }

  // ---------------------------------------------------------- checkpoints

  /**
   * Takes a checkpoint of a process (with `subtree`, of it and its live
   * descendants). Operator authority; processes use the `checkpoint` tool.
   */
  createCheckpoint(
    pid: Pid,
    options: { reason?: string; subtree?: boolean } = {},
    actor: Actor = { actor: OPERATOR_ROOT },
  ): Promise<CheckpointInfo> {
    return createCheckpoint(this, pid, { ...options, actor: actor.actor });
  }

  /** Checkpoints that include a process, oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    this._proc(pid);
    return this.store.listCheckpoints(pid);
  }

  /** One checkpoint with its content (hash-checked). */
  getCheckpoint(id: string): Promise<CheckpointRecord> {
    return readCheckpoint(this, id);
  }

  /** What changed from one checkpoint to another. */
  diffCheckpoints(from: string, to: string): Promise<CheckpointDiff> {
    return diffCheckpoints(this, from, to);
  }

  /** Rolls a checkpoint's processes back in place (never the audit log). */
  restoreCheckpoint(id: string, actor: Actor = { actor: OPERATOR_ROOT }): Promise<ProcessRecord> {
    return restoreCheckpoint(this, id, actor.actor);
  }

  /** A new process (or subtree) from a checkpoint, capabilities attenuated. */
  forkCheckpoint(
    id: string,
    options: { capabilities?: GrantSpec[] } = {},
    actor: Actor = { actor: OPERATOR_ROOT },
  ): Promise<{ pids: Record<Pid, Pid> }> {
    return this.#withinCeiling(options.capabilities ?? [], actor, `fork checkpoint '${id}'`)
      .then(() => forkCheckpoint(this, id, { ...options, actor: actor.actor }));
  }

  /** A checkpoint as a self-contained, hash-verified bundle. */
  exportCheckpoint(id: string, actor: Actor = { actor: OPERATOR_ROOT }): Promise<Uint8Array> {
    return exportCheckpoint(this, id, actor.actor);
  }

  /** Imports a bundle from another kernel; its processes resume here. */
  importBundle(
    bytes: Uint8Array,
    actor: Actor = { actor: OPERATOR_ROOT },
  ): Promise<{ pids: Record<Pid, Pid> }> {
    return importBundle(this, bytes, actor.actor, {
      within: (specs) => this.#withinCeiling(specs, actor, "import a bundle"),
    });
  }

  /** @internal Live descendants and dead ones alike. */
  _descendants(pid: Pid): ProcessRecord[] {
    return this.#descendants(pid);
  }

  /** @internal The last journal seq of a process. */
  _journalHead(pid: Pid): number {
    return this.#journalHeads.get(pid) ?? 0;
  }

  /** This boot's number (persisted), and the invocations made in it: see invoke. */
  #boot = 0;
  #invocations = 0;

  #probation: Promise<void> = Promise.resolve();

  /** @internal Runs recovery attempts one at a time, so a crash is attributable. */
  async _probation<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#probation;
    let release!: () => void;
    this.#probation = new Promise<void>((r) => release = r);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** @internal Forgets a process's in-memory context (it is rebuilt from the journal). */
  _resetLive(pid: Pid): void {
    const live = this._liveOf(pid);
    live.messages = null;
    live.replay.clear();
  }

  /** @internal Registers a process record made outside spawn (import, fork from checkpoint). */
  _adopt(p: ProcessRecord): void {
    this._procs.set(p.pid, p);
    this._live.set(p.pid, {
      messages: null,
      replay: new Map(),
      abort: null,
      committed: p.state,
      probation: false,
    });
  }

  /** @internal After a restore set a record directly: schedule, wake or arm it. */
  _settleRestored(batch: Batch, p: ProcessRecord): void {
    if (p.state === "waiting" && this.#waitSatisfied(p)) {
      p.state = "runnable";
      p.wait = null;
    }
    const state = p.state;
    batch.then(() => {
      this._liveOf(p.pid).committed = state;
      if (this.events.size > 0) {
        this.events.emit({ type: "process", pid: p.pid, from: null, state, reason: "restored" });
      }
      if (state === "runnable") this._scheduler.enqueue(p.pid);
      if (state === "waiting" && p.wait?.kind === "timer") this.#armTimer(p.pid, p.wait.until);
    });
  }

  // -------------------------------------------------------------- queries

  /** A copy of a process descriptor. */
  get(pid: Pid): ProcessRecord {
    return structuredClone(this._proc(pid));
  }

  /** Processes, optionally filtered by state and parent. */
  list(filter: { state?: ProcessState; parent?: Pid } = {}): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    for (const p of this._procs.values()) {
      if (filter.state !== undefined && p.state !== filter.state) continue;
      if (filter.parent !== undefined && p.parentPid !== filter.parent) continue;
      out.push(structuredClone(p));
    }
    return out;
  }

  /**
   * Resolves when the process is terminal or waiting (or after `timeoutMs`
   * of the kernel's clock, with its state then).
   */
  wait(
    pid: Pid,
    options: { until?: "settled" | "terminal"; signal?: AbortSignal } = {},
  ): Promise<ProcessRecord> {
    const p = this._proc(pid);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const done = (state: ProcessState) =>
      isTerminal(state) || (options.until !== "terminal" && state === "waiting");
    // Settled only when the durable state says so and nothing has moved it
    // on in memory since (a timer that just fired is still committing).
    if (done(this._liveOf(pid).committed) && done(p.state)) {
      return Promise.resolve(structuredClone(p));
    }
    return new Promise((resolve, reject) => {
      const sub = this.events.subscribe((e) => {
        if (e.type === "process" && e.pid === pid && done(e.state)) {
          cleanup();
          resolve(structuredClone(p));
        }
      });
      const onAbort = () => {
        cleanup();
        reject(options.signal?.reason);
      };
      const cleanup = () => {
        sub[Symbol.dispose]();
        options.signal?.removeEventListener("abort", onAbort);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Resolves when no process is runnable or running. */
  idle(): Promise<void> {
    return this._scheduler.idle();
  }

  /** Capabilities a process holds (all of them, with their state). */
  capabilities(pid: Pid): Grant[] {
    this._proc(pid);
    return this.grants.of(pid).map((g) => ({ ...g, rights: [...g.rights] }));
  }

  /** Grants a capability to a process as an operator. */
  async grant(
    pid: Pid,
    spec: GrantSpec,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<Grant> {
    const p = this._proc(pid);
    if (isTerminal(p.state)) {
      throw libosError("ESTATE", `Cannot grant to process ${pid}: it is ${p.state}`, { pid });
    }
    const parsed = GrantSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw libosError(
        "EINVAL",
        `Cannot grant to ${pid}: ${issue?.path.join(".")}: ${issue?.message}`,
      );
    }
    const valid = validateGrantSpec(parsed.data, this.clock.now());
    await this.#withinCeiling([valid], options, `grant to ${pid}`);
    const batch = new Batch();
    const g = issueGrant(valid, {
      subject: pid,
      issuedBy: options.actor,
      now: this.clock.now(),
      nextId: () => this._nextId("grant", "g_", batch),
    });
    this._saveGrant(batch, g);
    this._audit(batch, {
      actor: options.actor,
      action: "cap.grant",
      pid,
      resource: g.resource,
      capabilityId: g.id,
      detail: { rights: g.rights, effect: g.effect, uses: g.uses, expiresAt: g.expiresAt },
    });
    await this._commit(batch);
    return { ...g };
  }

  /**
   * Revokes a grant and every grant derived from it; pending approvals that
   * relied on any of them are voided.
   */
  async revoke(grantId: string, options: Actor = { actor: OPERATOR_ROOT }): Promise<Grant[]> {
    const root = this.grants.get(grantId);
    if (root === undefined) {
      throw libosError("ENOENT", `Cannot revoke grant '${grantId}': no such grant`);
    }
    const source = root.parentId === null ? undefined : this.grants.get(root.parentId);
    if (root.effect !== "allow" && source !== undefined && source.effect === root.effect) {
      // A copy of the parent's deny or ask carried into a child: revoking it
      // alone would make the child more permissive than its parent.
      throw libosError(
        "EPERM",
        `Cannot revoke grant '${grantId}': it carries ${source.subject}'s ${root.effect} grant ${source.id} to ${root.subject}; revoke ${source.id} instead`,
        { resource: root.resource },
      );
    }
    const batch = new Batch();
    const revoked: Grant[] = [];
    for (const g of this.grants.lineageOf(grantId)) {
      if (g.revoked) continue;
      g.revoked = true;
      this._saveGrant(batch, g);
      revoked.push({ ...g });
      this._audit(batch, {
        actor: options.actor,
        action: "cap.revoke",
        pid: g.subject,
        resource: g.resource,
        capabilityId: g.id,
        detail: { cause: g.id === grantId ? null : grantId },
      });
      for (const r of this._human.values()) {
        if (r.state === "pending" && r.grantId === g.id) {
          voidHumanRequest(this, batch, r.id, `grant ${g.id} was revoked`);
          const proc = this._procs.get(r.pid);
          if (
            proc?.state === "waiting" && proc.wait?.kind === "human" && proc.wait.requestId === r.id
          ) {
            this._transition(batch, proc, "runnable", { reason: null, actor: options.actor });
          }
        }
      }
    }
    await this._commit(batch);
    return revoked;
  }

  /** Human requests, optionally by state and pid, oldest first. */
  humanRequests(filter: { state?: HumanState; pid?: Pid } = {}): HumanRequest[] {
    return listHumanRequests(this, filter);
  }

  /** One human request. */
  humanRequest(id: string): HumanRequest {
    const r = this._human.get(id);
    if (r === undefined) {
      throw libosError("ENOENT", `Cannot find human request '${id}': no such request`);
    }
    return structuredClone(r);
  }

  /**
   * Answers a human request. The process wakes and its pending tool call runs
   * again from its start; the approved action is the exact one it asked for.
   * A second decision is refused (`ESTATE`).
   */
  answer(
    id: string,
    decision: HumanDecision,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<HumanRequest> {
    return answerHumanRequest(this, id, decision, options.actor);
  }

  /** @internal Arms the expiry of a pending request. */
  _armExpiry(r: HumanRequest): void {
    if (r.expiresAt === null) return;
    const key = `human:${r.id}`;
    this.#timers.set(
      key,
      this.clock.setTimer(r.expiresAt, () => {
        this.#timers.delete(key);
        void expireHumanRequest(this, r.id).catch((e) => this._panic(r.pid, e));
      }),
    );
  }

  /** A process's journal. */
  journal(pid: Pid, query: JournalQuery = {}): Promise<JournalEntry[]> {
    this._proc(pid);
    return this.store.readJournal(pid, query);
  }

  /** Audit records, decoded. */
  async audit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    return (await this.store.readAudit(query)).map(decodeAudit);
  }

  /** The head of the audit chain (seq and hash of the last record). */
  get auditHead(): { seq: number; hash: string } | null {
    const h = this.#audit.head;
    return h === null ? null : { seq: h.seq, hash: h.hash };
  }

  /**
   * Verifies the whole audit chain against `expectedHead` (default: the
   * kernel's head).
   */
  async verifyAudit(
    options: { expectedHead?: { seq: number; hash: string } } = {},
  ): Promise<AuditVerification> {
    // The kernel's own head comes from the same database; a head recorded
    // elsewhere (printed at shutdown, kept by an operator) also catches a
    // truncated tail.
    const head = options.expectedHead ?? this.auditHead;
    return await verifyAudit(auditPages(this.store), {
      ...(head === null ? {} : { expectedHead: head }),
      ...(this.store.shared ? { chains: "many" as const } : {}),
    });
  }

  /** Objects of a namespace. */
  listObjects(namespace: string): ObjectRecord[] {
    return this.objects.list(namespace).map((o) => structuredClone(o));
  }

  /** One object by oid. */
  object(oid: string): ObjectRecord {
    const o = this.objects.get(oid);
    if (o === undefined) throw libosError("ENOENT", `Cannot find object '${oid}': no such object`);
    return structuredClone(o);
  }

  /** Subscribes to kernel events. */
  subscribe(listener: KernelListener): Disposable {
    return this.events.subscribe(listener);
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The fault that stopped the kernel, if one did. */
  get fault(): unknown {
    return this.#fatal;
  }

  // ------------------------------------------------------------ recovery

  /**
   * Resumes processes after a crash, a clean restart or their adoption from
   * another kernel: the one path of both.
   */
  async #recover(
    procs: readonly ProcessRecord[],
    how: {
      boot: boolean;
      crashed: (pid: Pid) => boolean;
      adoptedFrom?: ReadonlyMap<Pid, string | null>;
    },
  ): Promise<void> {
    // Every process may take a few audit seqs below, in one synchronous pass.
    await this.#ids.ensure("audit", procs.length * 4 + 16);
    const batch = new Batch();
    if (how.boot) {
      this.#boot = Number(this._nextId("boot", "", batch));
      this._audit(batch, {
        actor: "kernel",
        action: "kernel.boot",
        detail: { boot: this.#boot, ...this.#bootFacts, kernel: this.#fence.kernel },
      });
      if (!this.store.shared) {
        this.#meta["shutdown"] = "running";
        batch.add({ kind: "meta.put", key: "shutdown", value: "running" });
      }
    }
    for (const p of procs) {
      const from = how.adoptedFrom?.get(p.pid);
      if (from === undefined) continue;
      this._audit(batch, {
        actor: "kernel:cluster",
        action: "process.adopted",
        pid: p.pid,
        detail: { from, kernel: this.#fence.kernel, state: p.state },
      });
      // Written once now, so the claim shows in the store even for a process
      // that does not move.
      this._saveProcess(batch, p);
    }
    // A model call in flight at the crash may have run and been billed: its
    // hold becomes spend (the call itself is made again).
    chargeLeftHolds(this, batch, procs);
    // The most suspected go first: a poison pill then fails again at once,
    // while an innocent process blamed for someone else's crash gets through
    // a step straight away and is cleared (at the back of the line it would
    // be the one running when the next random crash comes).
    const order = [...procs].sort((a, b) => b.recoveries - a.recoveries);
    for (const p of order) {
      if (how.crashed(p.pid) && (p.state === "running" || p.state === "runnable")) {
        // A first resume is counted for all at once (one commit, no
        // serialisation); a process resumed before and not through a step
        // since is a suspect: counted and run one at a time.
        if (p.recoveries === 0) {
          p.recoveries = 1;
          this._saveProcess(batch, p);
        } else this._liveOf(p.pid).probation = true;
      }
      if (p.state === "running") {
        // Interrupted mid-quantum: its pending tool call re-runs from the
        // journal (completed syscalls answer from it).
        this._transition(batch, p, "runnable", { reason: null, actor: "kernel:recovery" });
      } else if (p.state === "runnable" || p.state === "created") {
        if (p.state === "created") {
          this._transition(batch, p, "runnable", { actor: "kernel:recovery" });
        } else batch.then(() => this._scheduler.enqueue(p.pid));
      } else if (p.state === "waiting" && p.wait !== null) {
        if (this.#waitSatisfied(p)) {
          this._transition(batch, p, "runnable", { reason: null, actor: "kernel:recovery" });
        } else if (p.wait.kind === "timer") {
          const until = p.wait.until;
          batch.then(() => this.#armTimer(p.pid, until));
        }
      }
    }
    const pids = new Set(procs.map((p) => p.pid));
    for (const r of this._human.values()) {
      if (r.state === "pending" && pids.has(r.pid)) this._armExpiry(r);
    }
    await this._commit(batch);
    // A process that ended before the crash but whose purge did not commit.
    for (const p of procs) if (purgeDue(p)) await this.#purge(p.pid);
  }

  // ------------------------------------------------------------- shutdown

  /** Stops scheduling, waits for running quanta, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#membership?.stop();
    await this._scheduler.stop();
    await Promise.allSettled([...this.#purges.values()]);
    await this.mcp?.releaseAll();
    for (const t of this.#timers.values()) t[Symbol.dispose]();
    this.#timers.clear();
    this._mailboxes.close();
    if (this.#fatal === null) {
      try {
        // Unused ids go back (no gap after a clean restart); a store of one
        // kernel records the clean shutdown, a shared one marks the kernel
        // stopped so that the others adopt its processes at once.
        await this.#ids.release();
        if (this.store.shared) await this.store.stopKernel(this.#fence);
        else {
          await this.store.apply([{ kind: "meta.put", key: "shutdown", value: "clean" }], {
            fence: this.#fence,
          });
        }
      } catch {
        // A store that cannot write any more: the next boot treats it as a crash.
      }
    }
    this.#noticeSub?.[Symbol.dispose]();
    if (this.#ownNotifier) await this.notifier.close();
    await this.store.close();
  }

  /** Same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The floors of the store's id counters: ids this store holds already. */
function _idFloors(snap: StoreSnapshot, shared: boolean): Record<string, number> {
  const floors: Record<string, number> = {};
  // Counters kept in meta before the store allocated ids.
  const counters = snap.meta["counters"];
  if (counters !== null && typeof counters === "object") {
    for (const [kind, n] of Object.entries(counters as Record<string, unknown>)) {
      if (typeof n === "number" && Number.isSafeInteger(n)) floors[kind] = n;
    }
  }
  const atLeast = (kind: string, ids: Iterable<string>, prefix: string) => {
    for (const id of ids) {
      const n = id.startsWith(prefix) ? Number(id.slice(prefix.length)) : NaN;
      if (Number.isSafeInteger(n) && n > (floors[kind] ?? 0)) floors[kind] = n;
    }
  };
  atLeast("pid", snap.processes.map((p) => p.pid), "p_");
  atLeast("grant", snap.grants.map((g) => g.id), "g_");
  atLeast("human", snap.human.map((r) => r.id), "h_");
  if (shared && snap.auditHead !== null) floors["audit"] = snap.auditHead.seq;
  return floors;
}

function _hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

function _findQualified(objects: ObjectMemory, ref: string): ObjectRecord | undefined {
  const i = ref.lastIndexOf("/");
  if (i <= 0) return undefined;
  return objects.find(ref.slice(0, i), ref.slice(i + 1));
}

export { LibosError };
export type { KernelEvent };
