/**
 * The kernel's records: what the store persists and what the kernel keeps in
 * memory. Absent values are `null` (not `undefined`) so that a record survives
 * a round trip through JSON and SQL unchanged.
 *
 * @module
 */
import type { AgentImage, Budgets, Effect } from "./images/schemas.ts";
import type { ErrorData } from "./errors.ts";

/** A process id, `p_<n>`. */
export type Pid = string;

/** The lifecycle states of DESIGN §2. */
export type ProcessState =
  | "created"
  | "runnable"
  | "running"
  | "waiting"
  | "suspended"
  | "exited"
  | "failed"
  | "killed";

/** What a waiting process waits for. */
export type WaitReason =
  | { kind: "human"; requestId: string }
  | { kind: "child"; pid: Pid }
  | { kind: "timer"; until: number }
  | { kind: "event"; name: string }
  /**
   * A message on a mailbox channel (`mbox:<name>`), or the deadline `until`
   * (ms since the epoch; null: no deadline).
   */
  | { kind: "message"; channel: string; until: number | null };

/** One tool call of a model turn. */
export interface ToolCall {
  /** Unique within the process: `c<turn>.<index>`. */
  id: string;
  name: string;
  args: unknown;
}

/** The model turn a process is working through. */
export interface TurnCursor {
  turn: number;
  calls: ToolCall[];
  /** Index of the next call to dispatch. */
  next: number;
  /** Calls of this turn refused before any syscall (unknown tool, bad arguments). */
  invalid: number;
}

/** What a process has used of its budgets. */
export interface Usage {
  steps: number;
  toolCalls: number;
  tokens: number;
  children: number;
  /** Model cost in whole micro-dollars. */
  costMicroUsd: number;
  /** Tokens and cost of this process and all its descendants. */
  subtreeTokens: number;
  subtreeCostMicroUsd: number;
  /**
   * Held by this process's model call in flight (its worst case: prompt
   * estimate + `maxTokens`, and cost where priced); 0 when none is. See
   * runtime/process/model_reservation.ts.
   */
  reservedTokens: number;
  reservedCostMicroUsd: number;
  /** Held by the model calls in flight of this process and all its descendants. */
  subtreeReservedTokens: number;
  subtreeReservedCostMicroUsd: number;
  /** Model turns in a row whose every tool call was malformed. */
  invalidTurns: number;
}

/** A tool an agent wrote at run time (DESIGN §2, JIT tool), content-addressed. */
export interface JitTool {
  name: string;
  /** `sha256:<hex>` of the source: the candidate `propose_tool` answered. */
  hash: string;
  source: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /** Lineage: who proposed it and in which step. */
  proposedBy: Pid;
  step: number;
  /** In the tool table (`register_tool` done), or only accepted. */
  registered: boolean;
}

/**
 * What a process's bodies become when it ends: `keep` them (the default), or
 * `purge_on_exit` — replace them by their digests and sizes (see
 * runtime/retention/purge.ts).
 */
export type Retention = "keep" | "purge_on_exit";

/**
 * A body that was purged: the sha-256 (hex) of the canonical JSON encoding of
 * what it was (runtime/audit/canonical_json.ts), and that encoding's size in
 * bytes.
 */
export interface PurgedBody {
  purged: true;
  sha256: string;
  size: number;
}

/** A pinned MCP tool definition: what was hashed, and the hash. */
export interface McpPin {
  /** `sha256:<hex>` of the canonical JSON of `definition`. */
  hash: string;
  /** The tool's name, description, input and output schema and annotations. */
  definition: Record<string, unknown>;
}

/** A process descriptor (DESIGN §2). */
export interface ProcessRecord {
  pid: Pid;
  parentPid: Pid | null;
  /** Ancestors, root first, parent last. */
  lineage: Pid[];
  imageId: string;
  /** The version of the image in the image registry. */
  imageVersion: string;
  /** The goal it was given; purged when it ends under `purge_on_exit`. */
  goal: string | PurgedBody;
  /** The parent a fork was made from (a scripted model then follows its `forked` script). */
  forkedFrom: Pid | null;
  state: ProcessState;
  wait: WaitReason | null;
  /** The state a suspended process returns to on resume. */
  suspendedFrom: ProcessState | null;
  /** Workspace-relative working directory, "" for the workspace root. */
  cwd: string;
  /** The tool table: names the model may call. */
  tools: string[];
  /** JIT tools this process proposed (accepted) or registered, with their sources. */
  jitTools: JitTool[];
  /**
   * The MCP tool definitions this process's tool table was built from, by
   * `<server>.<tool>`: pinned the first time, changed only by an operator's
   * approval of a `tool_change` request (absent in records from before MCP).
   */
  mcpPins?: Record<string, McpPin>;
  budgets: Budgets;
  usage: Usage;
  cursor: TurnCursor | null;
  /**
   * Resumes after a kernel crash that did not get through a step: a process
   * that brings the kernel down on every resume is quarantined (failed)
   * after MAX_RECOVERIES of them.
   */
  recoveries: number;
  /** What `exit` returned; purged when it ends under `purge_on_exit`. */
  result: unknown;
  /** Why a process ended (or failed). */
  reason: string | null;
  /** What happens to its bodies when it ends (fixed at spawn). */
  retention: Retention;
  /** When its bodies were purged (`purge_on_exit`), or null. */
  purgedAt: number | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

/** A capability grant (DESIGN §3). */
export interface Grant {
  id: string;
  /** The pid holding the grant. */
  subject: Pid;
  resource: string;
  rights: string[];
  effect: Effect;
  /** Uses left; null is unlimited. */
  uses: number | null;
  /** Epoch milliseconds; null never expires. */
  expiresAt: number | null;
  delegable: boolean;
  parentId: string | null;
  /** Who issued it: `operator:<name>`, `image:<id>`, `pid:<pid>`, `human:<request>`. */
  issuedBy: string;
  revoked: boolean;
  createdAt: number;
}

/** A typed relation from one object to another. */
export interface ObjectLink {
  rel: string;
  oid: string;
}

/** Who made a version of an object. */
export interface Provenance {
  pid: Pid | null;
  step: number | null;
}

/** One version of a typed object (DESIGN §2, object memory). */
export interface ObjectRecord {
  oid: string;
  namespace: string;
  name: string;
  type: string;
  payload: unknown;
  version: number;
  links: ObjectLink[];
  provenance: Provenance;
  /** Bytes of the payload's JSON encoding. */
  size: number;
  createdAt: number;
  updatedAt: number;
}

/** Kinds of journal entries. */
export type JournalKind =
  | "lifecycle"
  | "model.response"
  | "tool.start"
  | "tool.end"
  | "syscall.intent"
  | "syscall"
  | "tool.log"
  | "human";

/** One journal entry of a process. */
export interface JournalEntry {
  pid: Pid;
  /** Per-process sequence number, from 1. */
  seq: number;
  at: number;
  kind: JournalKind;
  /** The model turn the entry belongs to, when it belongs to one. */
  turn: number | null;
  /** The tool call it belongs to, when it belongs to one. */
  callId: string | null;
  /** The syscall number within the tool call, for syscall entries. */
  sys: number | null;
  data: Record<string, unknown>;
}

/** The decision a capability check reached. */
export type Decision = "allow" | "deny" | "ask";

/** One audit record, before it is chained. */
export interface AuditEntry {
  at: number;
  /** `operator:<name>`, `pid:<pid>`, `kernel`, `human:<name>`. */
  actor: string;
  action: string;
  pid: Pid | null;
  resource: string | null;
  decision: Decision | null;
  capabilityId: string | null;
  step: number | null;
  callId: string | null;
  detail: Record<string, unknown>;
}

/** An audit record as chained: the entry plus its place and hashes. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

/** An audit record as stored: the canonical body text and its hash. */
export interface StoredAudit {
  seq: number;
  /** The canonical encoding of the record without `hash`. */
  body: string;
  hash: string;
}

/**
 * Kinds of human requests. An `outcome` request asks whether a syscall found
 * in flight after a crash took effect (an image's `recovery.onUnknownOutcome`
 * is `"ask"`); it is answered `happened`, `retry` or `fail`. A `tool_change`
 * request asks to approve an MCP tool's changed definition.
 */
export type HumanKind = "approval" | "question" | "permission" | "outcome" | "tool_change";

/** States of a human request. */
export type HumanState = "pending" | "approved" | "denied" | "answered" | "expired" | "void";

/** A durable request to a human (DESIGN §2, human queue). */
export interface HumanRequest {
  id: string;
  pid: Pid;
  kind: HumanKind;
  state: HumanState;
  /** Hash of the exact action an approval is bound to. */
  actionHash: string | null;
  /** Escaped, human-readable description of the action or question (purged: its digest). */
  preview: string | PurgedBody;
  /**
   * sha-256 of exactly what the human is shown: the preview and the bound
   * action's hash. An answer over the HTTP API must send it back.
   */
  previewSha256: string;
  /** For permission requests: the resource and rights asked for. */
  resource: string | null;
  rights: string[];
  /** The tool call and syscall that raised it. */
  callId: string | null;
  sys: number | null;
  /** The grant whose `ask` effect raised it. */
  grantId: string | null;
  createdAt: number;
  expiresAt: number | null;
  decidedAt: number | null;
  decidedBy: string | null;
  /** A question's answer; an outcome request's decision (`happened`, `retry` or `fail`). */
  answer: string | PurgedBody | null;
  /**
   * An outcome request answered `happened`: the call's result as the human
   * gave it (null when none was given), journaled as the call's result.
   */
  value?: unknown;
  scope: "once" | "always" | null;
  /** Whether the action it approved has run (an outcome `retry`: whether the retry began). */
  consumed: boolean;
}

/** A registered image. */
export interface ImageRecord {
  id: string;
  version: string;
  /** The file it was loaded from, if any. */
  source: string | null;
  image: AgentImage;
  registeredAt: number;
}

/** A tool call's outcome as the model sees it. */
export type ToolResult = { ok: true; value: unknown } | { ok: false; error: ErrorData };

/** One process's state inside a checkpoint. */
export interface CheckpointedProcess {
  process: ProcessRecord;
  /** The process's journal head when the checkpoint was taken. */
  journalSeq: number;
  grants: Grant[];
  /** The latest version of every object in the process's namespace. */
  objects: ObjectRecord[];
  /** Human requests pending at the time. */
  human: HumanRequest[];
}

/** A checkpoint without its content (what lists show). */
export interface CheckpointInfo {
  id: string;
  /** The process checkpointed (the root, for a subtree). */
  pid: Pid;
  /** Every process in it: the root, then its descendants. */
  pids: Pid[];
  reason: string | null;
  createdAt: number;
  createdBy: string;
  /** The root's journal head when it was taken. */
  journalSeq: number;
  /** sha-256 of the canonical encoding of `content`. */
  hash: string;
}

/** A consistent snapshot of a process or a subtree (DESIGN §2, Checkpoint). */
export interface CheckpointRecord extends CheckpointInfo {
  content: { processes: CheckpointedProcess[] };
}

/**
 * What one command's effect batch touched, by kind: the ids of the processes,
 * grants, human requests, images and checkpoints it wrote. Enough to answer a
 * retry whose first answer was lost in a crash.
 */
export interface CommandRefs {
  processes: string[];
  grants: string[];
  human: string[];
  images: string[];
  checkpoints: string[];
}

/** The answer stored for an idempotent command. */
export interface CommandResponse {
  status: number;
  /** The response body as sent (JSON text). */
  body: string;
  /** The headers worth replaying (content-type, etag, location). */
  headers: Record<string, string>;
}

/**
 * An idempotent command of the control plane (an `Idempotency-Key`): written
 * `pending` in the same store batch as the command's first effect, and
 * `done` with its answer once it answered.
 */
export interface CommandRecord {
  /** `<principal id>:<key>`: a key belongs to the token that sent it. */
  id: string;
  key: string;
  /** The principal's id (`admin`, `t_<n>`). */
  principal: string;
  method: string;
  /** The route's pattern, e.g. `/v1/processes/:pid/signal`. */
  route: string;
  /** The request's path as sent. */
  path: string;
  /** Hex SHA-256 of the request body's bytes. */
  bodySha256: string;
  createdAt: number;
  /** After this (ms since the epoch) the record is forgotten. */
  expiresAt: number;
  /**
   * `running`: claimed by a kernel of a shared store before it ran, nothing
   * committed yet (see `Store.claimCommand`); `pending`: its effect
   * committed; `done`: answered.
   */
  state: "running" | "pending" | "done";
  /** The kernel that claimed it (`running` only). */
  runner?: string;
  /** What the effect batch touched (set when that batch commits). */
  refs: CommandRefs | null;
  /** The answer (when `done`). */
  response: CommandResponse | null;
}

/**
 * A message between processes: a typed body on a mailbox channel
 * (`mbox:proc/<pid>`, a process's own mailbox, or `mbox:<name>`, a named
 * one), delivered to exactly one receiver, which claims it under the key of
 * the receive call that took it.
 */
export interface MessageRecord {
  /** `m_<n>`. */
  id: string;
  /** The id's number: messages of a channel are delivered in seq order. */
  seq: number;
  /** `mbox:proc/<pid>` or `mbox:<name>`. */
  channel: string;
  /** The sending process, or null (an operator). */
  sender: Pid | null;
  /** An object type of the kernel (the body was validated against it). */
  type: string;
  body: unknown;
  sentAt: number;
  /** The receiver that claimed it, or null while it waits. */
  claimedBy: Pid | null;
  /** The receive call that claimed it (`<callId>#<syscall>`), or null. */
  claimKey: string | null;
  claimedAt: number | null;
}
