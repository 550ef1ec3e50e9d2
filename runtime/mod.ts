/**
 * The kernel of Agent libOS: processes, capabilities, object memory, the human
 * queue, the journal, the audit chain, the scheduler, the primitives and the
 * substrate providers.
 *
 * @example
 * ```ts
 * import { Kernel, MemoryFilesystem } from "./mod.ts";
 * await using kernel = await Kernel.create({ filesystem: new MemoryFilesystem() });
 * const p = await kernel.spawn({
 *   image: {
 *     id: "hello", name: "Hello", version: "1",
 *     model: { provider: "scripted", steps: [{ tool: "exit", args: { result: "hi" } }] },
 *     tools: ["exit"],
 *   },
 *   goal: "say hi",
 * });
 * const done = await kernel.wait(p.pid);
 * console.log(done.state, done.result); // exited hi
 * ```
 *
 * @module
 */
export { actionHash } from "./engine/engine.ts";
export { CommandLedger, type CommandLookup } from "./engine/command_ledger.ts";
export {
  type Actor,
  type ForkRequest,
  type HumanDecision,
  Kernel,
  type KernelOptions,
  type Signal,
  type SpawnRequest,
} from "./kernel.ts";
export {
  ERROR_CODES,
  type ErrorCode,
  type ErrorData,
  hasCode,
  LibosError,
  libosError,
  toErrorData,
} from "./errors.ts";
export type { KernelEvent, KernelListener } from "./events.ts";
export {
  type AgentImage,
  type AgentImageInput,
  AgentImageSchema,
  type Budgets,
  BudgetsSchema,
  type Effect,
  type GrantSpec,
  GrantSpecSchema,
  type ModelSpec,
  RetentionSchema,
  RIGHTS_BY_KIND,
} from "./images/schemas.ts";
export type {
  AuditEntry,
  AuditRecord,
  CommandRecord,
  CommandRefs,
  CommandResponse,
  Decision,
  Grant,
  HumanRequest,
  ImageRecord,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
  ProcessState,
  PurgedBody,
  Retention,
  StoredAudit,
  ToolResult,
  WaitReason,
} from "./types.ts";
export type {
  AuditQuery,
  ForwardedCommand,
  ForwardQueue,
  GrantQuery,
  HumanQuery,
  JournalQuery,
  Mutation,
  ProcessQuery,
  Store,
  StoreSnapshot,
} from "./store/store.ts";
export {
  type ClusterNotice,
  LocalNotifier,
  type NoticeListener,
  type Notifier,
  PostgresNotifier,
} from "./cluster/notifier.ts";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite_store.ts";
export { MemoryStore } from "./store/memory_store.ts";
export {
  PostgresStore,
  type PostgresStoreOptions,
  type PostgresStoreStats,
} from "./store/postgres_store.ts";
export { hideUrlPassword, POSTGRES_DEFAULT_SCHEMA } from "./store/postgres_url.ts";
export { POSTGRES_SCHEMA_VERSION } from "./store/postgres_schema.ts";
export {
  openStore,
  type OpenStoreOptions,
  parseStoreLocation,
  SQLITE_FILE,
  type StoreLocation,
} from "./store/store_location.ts";
export { loadImageFile, parseImage, validateImage } from "./images/image_loader.ts";
export { ImageRegistry } from "./images/image_registry.ts";
export {
  auditPages,
  type AuditPagesOptions,
  type AuditVerification,
  verifyAudit,
} from "./audit/audit_chain.ts";
export { type DataDirHolder, DataDirLock } from "./store/data_dir_lock.ts";
export {
  decide,
  delegate,
  matchPattern,
  parseResource,
  validateGrantSpec,
} from "./capability/capability.ts";
export type { DirEntry, FileStat, FilesystemProvider } from "./substrate/fs_provider.ts";
export { LocalFilesystem } from "./substrate/local_fs.ts";
export {
  loadMcpConfig,
  type McpConfig,
  McpConfigSchema,
  type McpHttpServer,
  type McpServerConfig,
  type McpStdioServer,
  parseMcpConfig,
} from "./mcp/config.ts";
export { McpClients, type McpClientsOptions } from "./mcp/mcp_clients.ts";
export { MCP_CLIENT_INFO, McpSession, type McpSessionOptions } from "./mcp/mcp_session.ts";
export { MemoryFilesystem } from "./substrate/memory_fs.ts";
export { type Clock, FakeClock, systemClock } from "./substrate/clock.ts";
export {
  exposedCollect,
  IdleCollector,
  type IdleCollectorOptions,
  type IdleCollectorStats,
} from "./substrate/idle_collector.ts";
export type {
  ContextMessage,
  ModelProvider,
  ModelRequest,
  ModelResponse,
  ModelUsage,
  ToolSpec,
} from "./models/model_provider.ts";
export { ScriptedModel } from "./models/scripted_model.ts";
export { defaultObjectTypes, ObjectTypeRegistry } from "./memory/object_types.ts";
export { errorText, escapePreview, type EscapePreviewOptions, logLine } from "./human/preview.ts";
export { primitiveToolNames, primitiveToolSpec } from "./engine/primitive_tools.ts";
export { isTerminal } from "./process/lifecycle.ts";
export { bodyText, isPurged, purgedBody, type PurgeReport } from "./retention/purge.ts";
export { resolveRetention } from "./retention/retention.ts";
export { defineTool, type Tool, type ToolDefinition, type ToolSys, z } from "./tool_sdk.ts";
export { OpenAIProvider, type OpenAIProviderOptions } from "./models/openai_provider.ts";
export { AnthropicProvider, type AnthropicProviderOptions } from "./models/anthropic_provider.ts";
export {
  modelKeysPresent,
  providersFromEnv,
  type ProvidersFromEnvOptions,
} from "./models/model_providers.ts";
export { type EnvReader, type ModelOptions, ModelOptionsSchema } from "./models/model_options.ts";
export type { RetryOptions } from "./models/model_retry.ts";
export { costOf, type Price, priceOf, PRICES } from "./models/cost.ts";
export { estimateTokens, fitContext } from "./process/context_policy.ts";
export { isMalformedArgs, MALFORMED_KEY } from "./process/tool_call_args.ts";
export type { CheckpointDiff } from "./checkpoint/checkpoints.ts";
export type { CheckpointInfo, CheckpointRecord, JitTool } from "./types.ts";
export type {
  HostAuditRecord,
  HostedTool,
  HostedToolResult,
  HostedToolRun,
  JitProposalOutcome,
  ToolHost,
} from "./tool_host.ts";
export { dispatchSyscall, syscallNames } from "./engine/syscall_table.ts";
export type { Syscalls } from "./engine/syscalls.ts";
export { classifyHost, type HostClass, type HostKind, normalizeHost } from "./substrate/address.ts";
export {
  NetProvider,
  type NetProviderOptions,
  type NetRequest,
  type NetResponse,
} from "./substrate/net_provider.ts";
export {
  type ShellBubblewrapMode,
  type ShellConfinement,
  ShellProvider,
  type ShellProviderOptions,
  type ShellRequest,
  type ShellResult,
} from "./substrate/shell_provider.ts";
export {
  computeShellView,
  type GatingGrant,
  type ShellView,
  type ShellViewDecide,
  type ShellViewOptions,
  type ViewEntry,
  type ViewMode,
} from "./substrate/shell_view.ts";
export {
  proxyEnvironment,
  ShellNetProxy,
  type ShellNetProxyOptions,
  type ShellProxyTarget,
  type ShellProxyVerdict,
} from "./substrate/shell_proxy.ts";
export type { FetchResult, ShellRunResult } from "./engine/syscalls.ts";
export {
  type Ceiling,
  checkCeiling,
  describeCeiling,
  parseCeilingItem,
} from "./capability/ceiling.ts";
export { canonicalJson, sha256Hex } from "./audit/canonical_json.ts";
