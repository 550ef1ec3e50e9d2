/**
 * The kernel's services as its modules see them: the engine (the
 * primitives), the step loop, the human queue, checkpoints and retention get
 * this bundle of narrow services, each owning its own state, never the
 * kernel. {@linkcode Kernel} builds them and wires them (it is the
 * composition root), and nothing imports `kernel.ts` back.
 *
 * The services: {@linkcode Records} (ids, journal, audit, commits),
 * {@linkcode ProcessTable} (the processes), {@linkcode ProcessLifecycle}
 * (transitions, timers, wake-ups), {@linkcode Spawner} (spawn, fork, exec,
 * images), {@linkcode ObjectWriter} (object versions), and the kernel's
 * substrates and tables.
 *
 * @module
 */
import type { McpClients } from "./mcp/mcp_clients.ts";
import type { Authorizer } from "./engine/authorizer.ts";
import type { Batch } from "./engine/batch.ts";
import type { Records } from "./engine/records.ts";
import type { GrantTable } from "./capability/grant_table.ts";
import type { Clock } from "./substrate/clock.ts";
import type { EventBus } from "./events.ts";
import type { FilesystemProvider } from "./substrate/fs_provider.ts";
import type { ImageRegistry } from "./images/image_registry.ts";
import type { Mailboxes } from "./mailbox/mailboxes.ts";
import type { ObjectTypeRegistry } from "./memory/object_types.ts";
import type { ObjectWriter } from "./memory/object_writer.ts";
import type { ModelProvider } from "./models/model_provider.ts";
import type { NetProvider } from "./substrate/net_provider.ts";
import type { ObjectMemory } from "./memory/object_memory.ts";
import type { ProcessLifecycle } from "./process/process_lifecycle.ts";
import type { ProcessTable } from "./process/process_table.ts";
import type { Signal } from "./process/requests.ts";
import type { Scheduler } from "./process/scheduler.ts";
import type { Spawner } from "./process/spawner.ts";
import type { ShellProvider } from "./substrate/shell_provider.ts";
import type { Store } from "./store/store.ts";
import type { ToolHost } from "./tool_host.ts";
import type { HumanRequest, Pid, ProcessRecord, Retention } from "./types.ts";

export type { Actor, ForkRequest, Signal, SpawnRequest } from "./process/requests.ts";

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

/** What the kernel's services may do to its state (see the module doc). */
export interface KernelCore {
  // ------------------------------------------------------ substrates, tables
  readonly store: Store;
  readonly fs: FilesystemProvider;
  readonly clock: Clock;
  readonly images: ImageRegistry;
  readonly objects: ObjectMemory;
  /** The object types (message bodies are validated against them too). */
  readonly objectTypes: ObjectTypeRegistry;
  readonly grants: GrantTable;
  /** The one place rights are decided (primitives, model calls, the sandbox). */
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
  /** The model providers, by name. */
  readonly models: ReadonlyMap<string, ModelProvider>;
  /** The human request table, by id. */
  readonly human: Map<string, HumanRequest>;

  // -------------------------------------------------------------- services
  /** Ids, journal, audit, saved records, commits. */
  readonly records: Records;
  /** The processes and their in-memory state. */
  readonly procs: ProcessTable;
  /** Transitions, parking, waking, timers, what an ended process leaves to do. */
  readonly lifecycle: ProcessLifecycle;
  /** Spawn, fork, exec, image registration. */
  readonly spawner: Spawner;
  /** Object versions written into a batch. */
  readonly objectWriter: ObjectWriter;
  readonly scheduler: Scheduler;
  /** Mailbox claims, waiters and wake-ups. */
  readonly mailboxes: Mailboxes;
  /** Signals in `batch` (committed by the caller); returns the live record. */
  signal(batch: Batch, target: { pid: Pid; signal: Signal; actor: string }): ProcessRecord;
  /** Whether a tool of this name exists already (a primitive or a hosted tool). */
  isToolName(name: string): boolean;
  /** A message on `channel` is durable: its receivers waiting on this kernel wake. */
  onMessageStored(channel: string): void;
}
