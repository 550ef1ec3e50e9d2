/**
 * The kernel: the host process of Agent libOS. It owns every process, grant,
 * object, human request, journal and the audit chain; it schedules processes
 * and performs their effects only through the primitives of `syscalls.ts`.
 *
 * Live state is kept in memory; every change is written to the store as a
 * batch (group-committed), and the kernel acts on a change only once its
 * batch is durable where the change has an outside effect.
 *
 * The kernel is the composition root: it builds its services (the durable
 * writer `engine/records.ts`, the process table, the lifecycle service, the
 * spawner, the object writer, the scheduler, the mailboxes), wires them into
 * one {@linkcode KernelCore} that its modules get, and serves the public API
 * by delegating to them.
 *
 * @module
 */
import type { McpClients } from "./mcp/mcp_clients.ts";
import { type AuditChain, auditPages, decodeAudit, verifyAudit } from "./audit/audit_chain.ts";
import type { AuditVerification } from "./audit/audit_chain.ts";
import { Batch } from "./engine/batch.ts";
import { CommandLedger } from "./engine/command_ledger.ts";
import { withinCeiling } from "./engine/ceiling_guard.ts";
import { grantTo, revokeGrant } from "./engine/operator_grants.ts";
import { MetaSettings } from "./engine/meta_settings.ts";
import { Records } from "./engine/records.ts";
import { type Clock, systemClock } from "./substrate/clock.ts";
import { LibosError, libosError } from "./errors.ts";
import { EventBus, type KernelEvent, type KernelListener } from "./events.ts";
import type { FilesystemProvider } from "./substrate/fs_provider.ts";
import { GrantTable } from "./capability/grant_table.ts";
import { Authorizer } from "./engine/authorizer.ts";
import type { HumanDecision, KernelCore } from "./kernel_core.ts";
import type { Actor, ForkRequest, Signal, SpawnRequest } from "./process/requests.ts";
import { ImageRegistry } from "./images/image_registry.ts";
import { isTerminal } from "./process/lifecycle.ts";
import { ProcessLifecycle } from "./process/process_lifecycle.ts";
import { ProcessTable } from "./process/process_table.ts";
import { adoptClaimed, loadSnapshot, recoverProcesses } from "./process/recovery.ts";
import { sendSignal } from "./process/signals.ts";
import { Spawner } from "./process/spawner.ts";
import { MemoryFilesystem } from "./substrate/memory_fs.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { ModelProvider } from "./models/model_provider.ts";
import {
  answerHumanRequest,
  expireHumanRequest,
  listHumanRequests,
  voidHumanRequest,
} from "./human/human_queue.ts";
import { ObjectMemory } from "./memory/object_memory.ts";
import { defaultObjectTypes, ObjectTypeRegistry } from "./memory/object_types.ts";
import { ObjectWriter } from "./memory/object_writer.ts";
import type { AgentImageInput, GrantSpec } from "./images/schemas.ts";
import { Scheduler } from "./process/scheduler.ts";
import { Mailboxes } from "./mailbox/mailboxes.ts";
import { ScriptedModel } from "./models/scripted_model.ts";
import { runQuantum } from "./process/step_loop.ts";
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
} from "./store/store.ts";
import type { IdBlocks } from "./cluster/id_blocks.ts";
import { joinStore } from "./cluster/join.ts";
import type { ClusterOptions, KernelOptions } from "./kernel_options.ts";
import { ClusterMembership } from "./cluster/membership.ts";
import {
  type ClusterNotice,
  type NoticeListener,
  type Notifier,
  notifierFor,
} from "./cluster/notifier.ts";
import type {
  AuditRecord,
  CheckpointInfo,
  CheckpointRecord,
  Decision,
  Grant,
  HumanRequest,
  HumanState,
  ImageRecord,
  JournalEntry,
  ObjectRecord,
  Pid,
  ProcessRecord,
  ProcessState,
  Retention,
} from "./types.ts";
import { purgeProcess } from "./retention/purge.ts";
import { primitiveTool, primitiveToolNames } from "./engine/primitive_tools.ts";
import { errorText, logLine } from "./human/preview.ts";

export type { Actor, ForkRequest, HumanDecision, Signal, SpawnRequest } from "./kernel_core.ts";
export type { ClusterOptions, KernelOptions } from "./kernel_options.ts";

const OPERATOR_ROOT = "operator";

/** The Agent libOS kernel. */
export class Kernel implements AsyncDisposable {
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
  /** Idempotent commands of the control plane (records kept in the store). */
  readonly commands: CommandLedger;
  /** Notices between the kernels of the store, and whether this kernel opened it. */
  readonly notifier: Notifier;
  /** The services, as the kernel's modules get them (runtime/kernel_core.ts). */
  readonly #core: KernelCore;
  /** This kernel's id and lease epoch: every write carries it. */
  readonly #fence: Fence;
  #ids: IdBlocks;
  #membership: ClusterMembership | null = null;
  #ownNotifier: boolean;
  #noticeSub: Disposable | null = null;
  #fenced = false;
  readonly #cluster: ClusterOptions;
  #closed = false;
  #fatal: unknown = null;
  readonly #bootFacts: Record<string, unknown>;
  readonly #settings: MetaSettings;
  /** This boot's number (persisted), and the invocations made in it: see invoke. */
  #boot = 0;
  #invocations = 0;

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
    const clock = this.clock = options.clock ?? systemClock;
    this.authorizer = new Authorizer(this.grants, clock);
    this.objectTypes = options.objectTypes ?? defaultObjectTypes();
    this.objects = new ObjectMemory(options.objectQuotas ?? {});
    this.humanTtlMs = options.humanTtlMs ?? null;
    const toolHost = this.toolHost = options.toolHost ?? null;
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
    this.#bootFacts = { ...options.boot };
    const models = new Map<string, ModelProvider>();
    for (const m of [new ScriptedModel(), ...(options.models ?? [])]) models.set(m.name, m);
    const failed = (pid: Pid | null, error: unknown) => this.#panic(pid, error);
    const human = new Map<string, HumanRequest>();
    const records = new Records({
      store,
      fence: cluster.fence,
      ids: cluster.ids,
      audit,
      clock,
      events: this.events,
      notifier: cluster.notifier,
      grants: this.grants,
      human,
      fenced: (error) => this.#onFenced(error),
      failed: (error) => failed(null, error),
    });
    const procs = new ProcessTable();
    const mailboxes = new Mailboxes({
      store,
      clock,
      wake: (pid) => lifecycle.wakeFromMail(pid),
      pollMs: options.mailboxPollMs ?? null,
    });
    const scheduler = new Scheduler({
      concurrency: options.concurrency ?? 64,
      // A quantum's audit records take seqs synchronously: on a shared store
      // they are ready before it starts (a no-op on a store of one kernel).
      run: (pid) => {
        const needs = { audit: 256 };
        if (records.idsAt(needs)) return runQuantum(core, pid);
        return (async () => {
          for (let i = 0; i < 1_000 && !records.idsAt(needs); i++) await records.idsRefill(needs);
          return await runQuantum(core, pid);
        })();
      },
      onError: failed,
    });
    const lifecycle: ProcessLifecycle = new ProcessLifecycle({
      table: procs,
      records,
      clock,
      events: this.events,
      scheduler,
      mailboxes,
      human,
      toolHost,
      mcp: this.mcp,
      purge: (pid) => purgeProcess(core, pid),
      expire: (id) => expireHumanRequest(core, id),
      failed,
    });
    const objectWriter = new ObjectWriter({
      objects: this.objects,
      types: this.objectTypes,
      clock,
    });
    const spawner = new Spawner({
      table: procs,
      records,
      lifecycle,
      images: this.images,
      grants: this.grants,
      objects: this.objects,
      objectWriter,
      clock,
      retention: this.retention,
      toolNames: () => [...primitiveToolNames(), ...(toolHost?.names() ?? [])],
    });
    const voidRequests = (batch: Batch, pid: Pid, why: string) => {
      for (const r of human.values()) if (r.pid === pid) voidHumanRequest(core, batch, r.id, why);
    };
    const core: KernelCore = {
      store,
      fs: this.fs,
      clock,
      images: this.images,
      objects: this.objects,
      objectTypes: this.objectTypes,
      grants: this.grants,
      authorizer: this.authorizer,
      events: this.events,
      humanTtlMs: this.humanTtlMs,
      toolHost,
      toolDeadlineMs: this.toolDeadlineMs,
      net: this.net,
      shell: this.shell,
      retention: this.retention,
      mcp: this.mcp,
      models,
      human,
      records,
      procs,
      lifecycle,
      spawner,
      objectWriter,
      scheduler,
      mailboxes,
      signal: (batch, target) =>
        sendSignal({ table: procs, lifecycle, voidRequests }, batch, target),
      isToolName: (name) => primitiveTool(name) !== undefined || toolHost?.tool(name) !== undefined,
      onMessageStored: (channel) => this.onMessageStored(channel),
    };
    this.#core = core;
    this.#settings = new MetaSettings(records);
    toolHost?.attach?.((pid, record) => this.#hostAudit(pid, record));
    this.commands = new CommandLedger(store, (mutations) => {
      const batch = new Batch();
      for (const m of mutations) batch.add(m);
      return records.commit(batch);
    }, () => clock.now());
  }

  /** @internal The services (for the kernel's own tests). */
  get _core(): KernelCore {
    return this.#core;
  }

  /** Boots a kernel: loads the store's state and resumes live processes. */
  static async create(options: KernelOptions = {}): Promise<Kernel> {
    const store = options.store ?? new MemoryStore();
    const { fence, ttlMs, claimed, snap, ids, audit } = await joinStore(store, options.cluster);
    const notifier = options.notifier ?? await notifierFor(store);
    const kernel = new Kernel(options, store, audit, {
      fence,
      ids,
      notifier,
      ownNotifier: options.notifier === undefined,
    });
    kernel.#noticeSub = notifier.subscribe((n) => kernel.#onNotice(n));

    loadSnapshot(kernel.#core, snap);
    kernel.#settings.load(snap.meta);
    // After a crash (no clean shutdown recorded), every process resumed in
    // the middle of its work counts a recovery: see runQuantum. On a shared
    // store, a process counts one when the kernel it came from died.
    const crashed = store.shared
      ? new Set(claimed.filter((c) => !c.clean).map((c) => c.pid))
      : null;
    const localCrash = !kernel.#settings.cleanShutdown && kernel.#core.procs.size > 0;
    await recoverProcesses(kernel.#core, [...kernel.#core.procs.values()], {
      kernel: fence.kernel,
      crashed: (pid) => crashed === null ? localCrash : crashed.has(pid),
      begin: (batch) => kernel.#bootRecord(batch),
    });
    if (options.autostart !== false) kernel.#core.scheduler.start();
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

  /** Opens the boot's recovery batch: the boot number and its `kernel.boot` record. */
  #bootRecord(batch: Batch): void {
    const records = this.#core.records;
    this.#boot = Number(records.nextId("boot", "", batch));
    records.audit(batch, {
      actor: "kernel",
      action: "kernel.boot",
      detail: { boot: this.#boot, ...this.#bootFacts, kernel: this.#fence.kernel },
    });
    if (!this.store.shared) this.#settings.markRunning(batch);
  }

  /**
   * A notice from the cluster: a message stored by another kernel wakes this
   * kernel's receivers of its channel (they re-read the store and claim).
   */
  #onNotice(n: ClusterNotice): void {
    if (n.kernel === this.#fence.kernel || this.#closed || this.#fenced) return;
    if (n.kind === "message") this.#core.mailboxes.stored(n.channel);
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

  /** Resumes processes claimed from a dead or stopped kernel (see recovery.ts). */
  async #adoptClaimed(claimed: ClaimedProcess[]): Promise<void> {
    if (this.#fenced || this.#closed) return;
    await adoptClaimed(this.#core, claimed, this.#fence.kernel);
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
    const count = this.#core.procs.size;
    console.error(
      logLine(
        `libos: kernel ${this.#fence.kernel} fenced (${errorText(error)}): ` +
          `stopping and dropping its ${count} processes; another kernel adopts them`,
      ),
    );
    void (async () => {
      await this.#membership?.stop();
      await this.#core.scheduler.stop();
      this.#core.lifecycle.clearTimers();
      this.#core.procs.clear();
      this.#core.human.clear();
      this.#cluster.onFenced?.(error);
    })();
  }

  /** A kernel bug or a store failure: stop scheduling, keep state. */
  #panic(pid: Pid | null, error: unknown): void {
    if (this.#fatal === null) this.#fatal = error;
    console.error(
      logLine(
        `libos: kernel fault${pid === null ? "" : ` while running ${pid}`}: ${errorText(error)}`,
      ),
    );
    this.#core.scheduler.stop();
  }

  /**
   * Writes an audit record the tool host made outside any run (a tool file a
   * scan refused, a message from a host between runs), in a batch of its own.
   */
  #hostAudit(pid: Pid | null, record: HostAuditRecord): void {
    if (this.#closed) return;
    const batch = new Batch();
    const known = pid !== null && this.#core.procs.has(pid);
    this.#core.records.audit(batch, {
      actor: "kernel:sandbox",
      action: record.action,
      pid: known ? pid : null,
      resource: record.resource ?? null,
      decision: record.decision ?? null,
      detail: known || pid === null ? record.detail : { ...record.detail, host: pid },
    });
    // A store failure stops the kernel (commit panics); nothing more to do here.
    this.#core.records.commit(batch).catch(() => {});
  }

  /**
   * Resolves when an ended `purge_on_exit` process's purge has committed (at
   * once when none is due or running).
   */
  async whenPurged(pid: Pid): Promise<void> {
    this.#core.procs.get(pid);
    await this.#core.lifecycle.whenPurged(pid);
  }

  /**
   * A message on `channel` is durable: the receivers waiting on it on this
   * kernel wake and take it (one of them; the others wait again). A send on
   * this kernel calls it; a bridge from other kernels (LISTEN/NOTIFY) may too.
   */
  onMessageStored(channel: string): void {
    if (!this.#closed) this.#core.mailboxes.stored(channel);
  }

  /**
   * A durable setting kept with the kernel's state (e.g. the control plane's
   * hashed tokens); undefined when unset.
   */
  getMeta(key: string): unknown {
    return this.#settings.get(key);
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
    await this.#settings.put(key, value, options);
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
    this.#core.records.audit(batch, {
      actor: options.actor,
      action: entry.action,
      pid: entry.pid ?? null,
      resource: entry.resource ?? null,
      decision: entry.decision ?? null,
      detail: structuredClone(entry.detail ?? {}),
    });
    await this.#core.records.commit(batch);
  }

  /** Starts scheduling (for a kernel created with `autostart: false`). */
  start(): void {
    this.#core.scheduler.start();
  }

  /** Registers an image (an operator action). */
  registerImage(
    image: AgentImageInput,
    options: Actor & { source?: string } = { actor: OPERATOR_ROOT },
  ): Promise<ImageRecord> {
    return this.#core.spawner.registerImage(image, options);
  }

  /**
   * Spawns a process for an operator: the image's capabilities and the
   * requested ones are granted as the operator issues them.
   */
  async spawn(
    request: SpawnRequest,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const p = await this.#core.spawner.spawn(request, {
      actor: options.actor,
      ...(options.ceiling === undefined ? {} : { ceiling: options.ceiling }),
      parent: null,
      forkOf: null,
    });
    return structuredClone(p);
  }

  /** Refuses (EPERM, audited) grants above the actor's ceiling. */
  #within(specs: readonly GrantSpec[], who: Actor, what: string): Promise<void> {
    return withinCeiling(this.#core, specs, { ...who, what });
  }

  /** Forks a process for an operator. */
  async fork(
    pid: Pid,
    request: ForkRequest,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    const parent = this.#core.procs.get(pid);
    await this.#within(request.capabilities ?? [], options, `fork ${pid}`);
    const child = await this.#core.spawner.fork(parent, request, { actor: options.actor });
    return structuredClone(child);
  }

  /** Replaces a process's image; capabilities never grow. */
  async exec(
    pid: Pid,
    image: string | AgentImageInput,
    options: Actor = { actor: OPERATOR_ROOT },
  ): Promise<ProcessRecord> {
    return structuredClone(await this.#core.spawner.exec(pid, image, options));
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
    const p = this.#core.signal(batch, { pid, signal, actor: options.actor });
    await this.#core.records.commit(batch);
    return structuredClone(p);
  }

  /**
   * Runs syscalls on behalf of a live process outside its step loop (the seam
   * for program images and the sandbox's syscall proxy): every call goes
   * through the same primitives, journal and audit; the batch commits before
   * this resolves. A call that must wait parks the process and rejects with
   * `EWAITING`.
   */
  async invoke<T>(pid: Pid, fn: (sys: Syscalls) => Promise<T>): Promise<T> {
    const p = this.#core.procs.get(pid);
    if (isTerminal(p.state)) {
      throw libosError("ESTATE", `Cannot run a syscall for process ${pid}: it is ${p.state}`, {
        pid,
      });
    }
    const batch = new Batch();
    // `x<boot>.<n>`: the boot number is persisted once per boot, so no call id is reused after
    // a restart and no invocation writes more than its own records.
    const callId = `x${this.#boot}.${++this.#invocations}`;
    const sys = new Syscalls(this.#core, p, {
      batch,
      callId,
      turn: p.cursor?.turn ?? 0,
      replay: new Map(),
    });
    try {
      return await fn(sys);
    } finally {
      await this.#core.records.commit(batch);
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
    return createCheckpoint(this.#core, pid, { ...options, actor: actor.actor });
  }

  /** Checkpoints that include a process, oldest first. */
  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    this.#core.procs.get(pid);
    return this.store.listCheckpoints(pid);
  }

  /** One checkpoint with its content (hash-checked). */
  getCheckpoint(id: string): Promise<CheckpointRecord> {
    return readCheckpoint(this.#core, id);
  }

  /** What changed from one checkpoint to another. */
  diffCheckpoints(from: string, to: string): Promise<CheckpointDiff> {
    return diffCheckpoints(this.#core, from, to);
  }

  /** Rolls a checkpoint's processes back in place (never the audit log). */
  restoreCheckpoint(id: string, actor: Actor = { actor: OPERATOR_ROOT }): Promise<ProcessRecord> {
    return restoreCheckpoint(this.#core, id, actor.actor);
  }

  /** A new process (or subtree) from a checkpoint, capabilities attenuated. */
  forkCheckpoint(
    id: string,
    options: { capabilities?: GrantSpec[] } = {},
    actor: Actor = { actor: OPERATOR_ROOT },
  ): Promise<{ pids: Record<Pid, Pid> }> {
    return this.#within(options.capabilities ?? [], actor, `fork checkpoint '${id}'`)
      .then(() => forkCheckpoint(this.#core, id, { ...options, actor: actor.actor }));
  }

  /** A checkpoint as a self-contained, hash-verified bundle. */
  exportCheckpoint(id: string, actor: Actor = { actor: OPERATOR_ROOT }): Promise<Uint8Array> {
    return exportCheckpoint(this.#core, id, actor.actor);
  }

  /** Imports a bundle from another kernel; its processes resume here. */
  importBundle(
    bytes: Uint8Array,
    actor: Actor = { actor: OPERATOR_ROOT },
  ): Promise<{ pids: Record<Pid, Pid> }> {
    return importBundle(this.#core, bytes, actor.actor, {
      within: (specs) => this.#within(specs, actor, "import a bundle"),
    });
  }

  // -------------------------------------------------------------- queries

  /** A copy of a process descriptor. */
  get(pid: Pid): ProcessRecord {
    return structuredClone(this.#core.procs.get(pid));
  }

  /** Processes, optionally filtered by state and parent. */
  list(filter: { state?: ProcessState; parent?: Pid } = {}): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    for (const p of this.#core.procs.values()) {
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
    return this.#core.lifecycle.settled(pid, options);
  }

  /** Resolves when no process is runnable or running. */
  idle(): Promise<void> {
    return this.#core.scheduler.idle();
  }

  /** Capabilities a process holds (all of them, with their state). */
  capabilities(pid: Pid): Grant[] {
    this.#core.procs.get(pid);
    return this.grants.of(pid).map((g) => ({ ...g, rights: [...g.rights] }));
  }

  /** Grants a capability to a process as an operator. */
  grant(pid: Pid, spec: GrantSpec, options: Actor = { actor: OPERATOR_ROOT }): Promise<Grant> {
    return grantTo(this.#core, pid, spec, options);
  }

  /**
   * Revokes a grant and every grant derived from it; pending approvals that
   * relied on any of them are voided.
   */
  revoke(grantId: string, options: Actor = { actor: OPERATOR_ROOT }): Promise<Grant[]> {
    return revokeGrant(this.#core, grantId, options);
  }

  /** Human requests, optionally by state and pid, oldest first. */
  humanRequests(filter: { state?: HumanState; pid?: Pid } = {}): HumanRequest[] {
    return listHumanRequests(this.#core, filter);
  }

  /** One human request. */
  humanRequest(id: string): HumanRequest {
    const r = this.#core.human.get(id);
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
    return answerHumanRequest(this.#core, id, decision, options.actor);
  }

  /** A process's journal. */
  journal(pid: Pid, query: JournalQuery = {}): Promise<JournalEntry[]> {
    this.#core.procs.get(pid);
    return this.store.readJournal(pid, query);
  }

  /** Audit records, decoded. */
  async audit(query: AuditQuery = {}): Promise<AuditRecord[]> {
    return (await this.store.readAudit(query)).map(decodeAudit);
  }

  /** The head of the audit chain (seq and hash of the last record). */
  get auditHead(): { seq: number; hash: string } | null {
    const h = this.#core.records.auditHead;
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

  // ------------------------------------------------------------- shutdown

  /** Stops scheduling, waits for running quanta, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#membership?.stop();
    await this.#core.scheduler.stop();
    await this.#core.lifecycle.purgesSettled();
    await this.mcp?.releaseAll();
    this.#core.lifecycle.clearTimers();
    this.#core.mailboxes.close();
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

export { LibosError };
export type { KernelEvent };
