/**
 * The kernel's seam for its own services: the operations the engine (the
 * primitives), the step loop, the human queue and checkpoints perform on the
 * kernel's state, each writing into a {@linkcode Batch} that the caller
 * commits. {@linkcode Kernel} implements it; those modules depend on this
 * interface, never on `kernel.ts`, so the kernel is the composition root and
 * nothing imports it back.
 *
 * The members are grouped by concern: durable records (commit, ids, journal,
 * audit, saves), the process table (records, transitions, spawn, fork,
 * signal), objects, human requests, and the services the kernel owns.
 *
 * @module
 */
import type { McpClients } from "./mcp/mcp_clients.ts";
import type { Authorizer } from "./engine/authorizer.ts";
import type { Ceiling } from "./capability/ceiling.ts";
import type { Batch } from "./engine/batch.ts";
import type { GrantTable } from "./capability/grant_table.ts";
import type { Clock } from "./substrate/clock.ts";
import type { EventBus } from "./events.ts";
import type { FilesystemProvider } from "./substrate/fs_provider.ts";
import type { ImageRegistry } from "./images/image_registry.ts";
import type { Mailboxes } from "./mailbox/mailboxes.ts";
import type { ObjectTypeRegistry } from "./memory/object_types.ts";
import type { ContextMessage, ModelProvider } from "./models/model_provider.ts";
import type { NetProvider } from "./substrate/net_provider.ts";
import type { ObjectMemory } from "./memory/object_memory.ts";
import type { AgentImage, AgentImageInput, GrantSpec } from "./images/schemas.ts";
import type { Scheduler } from "./process/scheduler.ts";
import type { ShellProvider } from "./substrate/shell_provider.ts";
import type { Store } from "./store/store.ts";
import type { ToolHost } from "./tool_host.ts";
import type {
  AuditEntry,
  CheckpointInfo,
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
  WaitReason,
} from "./types.ts";

/** Who performs an operation from outside the process tree. */
export interface Actor {
  /** e.g. `operator:admin`, `cli`, `human:alice`. */
  actor: string;
  /**
   * What the actor may give processes (a token's ceiling); absent or null:
   * no ceiling. See runtime/capability/ceiling.ts.
   */
  ceiling?: Ceiling;
}

/** What `spawn` takes. */
export interface SpawnRequest {
  /** A registered image id, or an inline image (validated, then registered). */
  image: string | AgentImageInput;
  goal: string;
  /** Extra grants beyond the image's (within the spawner's authority). */
  capabilities?: GrantSpec[];
  /** Initial working directory (workspace-relative). */
  cwd?: string;
}

/** What `fork` takes. */
export interface ForkRequest {
  goal: string;
  /** Grants for the child: each must be covered by the parent's delegable grants. */
  capabilities?: GrantSpec[];
  /** Objects of the parent (refs) the child may read. */
  objects?: string[];
}

/** Signals a process can receive. */
export type Signal = "pause" | "resume" | "cancel" | "kill";

/** A human's decision on a request. */
export interface HumanDecision {
  /**
   * `approve` or `deny` an approval or permission request; `answer` or `deny`
   * a question; `happened`, `retry` or `fail` an outcome request.
   */
  decision: "approve" | "deny" | "answer" | "happened" | "retry" | "fail";
  answer?: string;
  /** With `happened`: the call's result (JSON), journaled as what the call returned. */
  value?: unknown;
  scope?: "once" | "always";
  /**
   * The `previewSha256` of the request as the human saw it. When given, an
   * answer to a request showing anything else is refused (`ESTALE`) and the
   * request stays pending. The HTTP API requires it; the library may omit it.
   */
  previewSha256?: string;
}

/** Per-process state that lives only in memory. */
export interface LiveState {
  messages: ContextMessage[] | null;
  /** Journal entries of the tool call in progress, by syscall number. */
  replay: Map<number, JournalEntry>;
  abort: AbortController | null;
  /** The state as of the last durable transition (what waiters may observe). */
  committed: ProcessState;
  /** Resumed after a crash: its first quantum is a recovery attempt. */
  probation: boolean;
}

/** The fields of an audit record a caller gives; the kernel fills in the rest. */
export type AuditInput =
  & Omit<
    AuditEntry,
    "at" | "step" | "callId" | "detail" | "capabilityId" | "resource" | "decision" | "pid"
  >
  & Partial<AuditEntry>;

/** What the kernel's services may do to its state (see the module doc). */
export interface KernelCore {
  // ------------------------------------------------ services the kernel owns
  readonly store: Store;
  readonly fs: FilesystemProvider;
  readonly clock: Clock;
  readonly images: ImageRegistry;
  readonly objects: ObjectMemory;
  /** The object types (message bodies are validated against them too). */
  readonly objectTypes: ObjectTypeRegistry;
  readonly grants: GrantTable;
  readonly authorizer: Authorizer;
  readonly events: EventBus;
  readonly humanTtlMs: number | null;
  readonly toolHost: ToolHost | null;
  readonly toolDeadlineMs: number;
  readonly net: NetProvider | null;
  readonly shell: ShellProvider | null;
  /** The kernel's retention setting (a floor under every image's). */
  readonly retention: Retention;
  /** The MCP servers the operator configured, and the processes' sessions. */
  readonly mcp: McpClients | null;
  readonly _models: Map<string, ModelProvider>;
  readonly _scheduler: Scheduler;
  /** Mailbox claims, waiters and wake-ups. */
  readonly _mailboxes: Mailboxes;
  /** A message on `channel` is durable: its receivers waiting on this kernel wake. */
  onMessageStored(channel: string): void;

  // ---------------------------------------------------------- durable records
  /** Commits a batch; a store failure stops the kernel. */
  _commit(batch: Batch): Promise<void>;
  _commitBehind(batch: Batch, runnable: Pid): void;
  /** Next value of a persisted counter, as `<prefix><n>`. */
  _nextId(kind: string, prefix: string, batch: Batch): string;
  _audit(batch: Batch, entry: AuditInput): void;
  _journal(
    batch: Batch,
    pid: Pid,
    kind: JournalKind,
    data: Record<string, unknown>,
    where?: { turn?: number | null; callId?: string | null; sys?: number | null },
  ): JournalEntry;
  _journalHead(pid: Pid): number;
  _saveProcess(batch: Batch, p: ProcessRecord): void;
  _saveGrant(batch: Batch, g: Grant): void;
  _saveHuman(batch: Batch, r: HumanRequest): void;

  // ------------------------------------------------------------ process table
  readonly _procs: Map<Pid, ProcessRecord>;
  _proc(pid: Pid): ProcessRecord;
  _liveOf(pid: Pid): LiveState;
  _resetLive(pid: Pid): void;
  _adopt(p: ProcessRecord): void;
  _image(p: ProcessRecord): AgentImage;
  _descendants(pid: Pid): ProcessRecord[];
  _transition(
    batch: Batch,
    p: ProcessRecord,
    to: ProcessState,
    options?: { reason?: string | null; wait?: WaitReason | null; actor?: string },
  ): void;
  _park(batch: Batch, p: ProcessRecord, wait: WaitReason): void;
  _settleRestored(batch: Batch, p: ProcessRecord): void;
  _probation<T>(fn: () => Promise<T>): Promise<T>;
  _spawn(
    request: SpawnRequest,
    options: {
      actor: string;
      parent: ProcessRecord | null;
      forkOf: ProcessRecord | null;
      batch?: Batch;
    },
  ): Promise<ProcessRecord>;
  _fork(
    parent: ProcessRecord,
    request: ForkRequest,
    options: { actor: string; batch?: Batch },
  ): Promise<ProcessRecord>;
  _signal(batch: Batch, pid: Pid, signal: Signal, actor: string): ProcessRecord;
  registerImage(
    image: AgentImageInput,
    options?: Actor & { source?: string },
  ): Promise<ImageRecord>;
  /** Whether a tool of this name exists already (a primitive or a hosted tool). */
  _isToolName(name: string): boolean;
  /** Takes a checkpoint inside a process's tool call. */
  _checkpoint(
    pid: Pid,
    options: {
      reason?: string | null;
      subtree?: boolean;
      actor: string;
      batch?: Batch;
      call?: { callId: string; sys: number; argsHash: string };
    },
  ): Promise<CheckpointInfo>;

  // ------------------------------------------------------------------ objects
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
  ): ObjectRecord;

  // ----------------------------------------------------------- human requests
  readonly _human: Map<string, HumanRequest>;
  humanRequests(filter?: { state?: HumanState; pid?: Pid }): HumanRequest[];
  _armExpiry(r: HumanRequest): void;
}
