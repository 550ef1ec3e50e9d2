/**
 * The options a kernel boots with (`Kernel.create`).
 *
 * @module
 */
import type { ClusterOptions } from "./cluster/join.ts";
import type { Notifier } from "./cluster/notifier.ts";
import type { McpClients } from "./mcp/mcp_clients.ts";
import type { ObjectQuotas } from "./memory/object_memory.ts";
import type { ObjectTypeRegistry } from "./memory/object_types.ts";
import type { ModelProvider } from "./models/model_provider.ts";
import type { Store } from "./store/store.ts";
import type { Clock } from "./substrate/clock.ts";
import type { FilesystemProvider } from "./substrate/fs_provider.ts";
import type { NetProvider } from "./substrate/net_provider.ts";
import type { ShellProvider } from "./substrate/shell_provider.ts";
import type { ToolHost } from "./tool_host.ts";
import type { Retention } from "./types.ts";

export type { ClusterOptions };

/** Options of `Kernel.create`. */
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
