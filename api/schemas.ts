/**
 * The control plane's zod schemas: request bodies and queries (validated on
 * the way in) and the records it answers with (described in the OpenAPI
 * document). Request schemas reuse the kernel's own (`AgentImageSchema`,
 * `GrantSpecSchema`, `BudgetsSchema`), so the API accepts exactly what the
 * kernel accepts; the record schemas are checked at compile time against the
 * kernel's record types (see the `_Same` assertions at the end).
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  AgentImageSchema as KernelImageSchema,
  type AuditRecord,
  ERROR_CODES,
  type Grant,
  GrantSpecSchema as KernelGrantSpecSchema,
  type HumanRequest,
  type ImageRecord,
  type JournalEntry,
  type Kernel,
  type ObjectRecord,
  type ProcessRecord,
} from "../runtime/mod.ts";

/** Process budgets (the kernel's schema, taken from the image schema it belongs to). */
const BudgetsSchema = KernelImageSchema.shape.budgets.unwrap();

// The kernel's schemas may be built before `@hono/zod-openapi` extends zod, so
// they are named with zod's own `.meta({id})`, which the generator reads too.

/** A grant as requested (the kernel's schema, named for the OpenAPI document). */
export const GrantSpecSchema = KernelGrantSpecSchema.meta({ id: "GrantSpec" });

/** An agent image (the kernel's schema, named for the OpenAPI document). */
export const AgentImageSchema = KernelImageSchema.meta({ id: "AgentImage" });

/** The roles a bearer token carries, weakest first. */
export const RoleSchema = z.enum(["viewer", "operator", "admin"]).openapi("Role");

/** The lifecycle states of a process. */
export const ProcessStateSchema = z.enum([
  "created",
  "runnable",
  "running",
  "waiting",
  "suspended",
  "exited",
  "failed",
  "killed",
]).openapi("ProcessState");

/** States of a human request. */
export const HumanStateSchema = z.enum([
  "pending",
  "approved",
  "denied",
  "answered",
  "expired",
  "void",
]).openapi("HumanState");

const pid = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, "a process id such as p_1");
const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, "an id such as h_1");
const intQuery = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// ------------------------------------------------------------------ errors

/** One validation issue: where (a dotted path) and what was expected. */
export const IssueSchema = z.object({
  path: z.string(),
  message: z.string(),
}).openapi("Issue");

/** Every error answer: a stable code and a message; validation errors list their issues. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({
      example: "ENOENT",
      description:
        `A stable code: the kernel's (${
          ERROR_CODES.join(", ")
        }) or the API's own: EAUTH (401), EREVISION (412: If-Match names another revision), ` +
        "EIDEMPOTENCY (422: an Idempotency-Key reused with another request or body; 409: a " +
        "command whose answer cannot be given again), EBUSY (409: the first request with this " +
        "Idempotency-Key is still running), ESTALE (409: an answer for another preview)",
    }),
    message: z.string().openapi({ example: "Cannot find process 'p_9': no such process" }),
    issues: z.array(IssueSchema).optional(),
  }),
  current: z.unknown().optional().openapi({
    description: "With 412: the object as it stands now, with its revision",
  }),
}).openapi("Error");

/** `If-Match` on answers, signals, restores and revokes. */
export const IfMatchHeaders = z.object({
  "if-match": z.string().max(512).optional().openapi({
    description: "the object's revision (as its ETag gives it); another one is 412",
  }),
});

/** The revision every process, grant and human request carries in the API. */
export const Revision = {
  revision: z.string().openapi({
    description:
      "a digest of the object as it stands (also its ETag); it changes with every change",
  }),
};

// ----------------------------------------------------------------- params

/** `:pid` path parameter. */
export const PidParams = z.object({
  pid: pid.openapi({ param: { name: "pid", in: "path" }, example: "p_1" }),
});

/** `:id` path parameter. */
export const IdParams = z.object({
  id: id.openapi({ param: { name: "id", in: "path" }, example: "h_1" }),
});

/** `:oid` path parameter. */
export const OidParams = z.object({
  oid: id.openapi({ param: { name: "oid", in: "path" }, example: "o_0a1b2c" }),
});

// ---------------------------------------------------------------- records

const WaitReasonSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("human"), requestId: z.string() }),
  z.object({ kind: z.literal("child"), pid: z.string() }),
  z.object({ kind: z.literal("timer"), until: z.number() }),
  z.object({ kind: z.literal("message"), channel: z.string(), until: z.number().nullable() }),
  z.object({ kind: z.literal("event"), name: z.string() }),
]).openapi("WaitReason");

/**
 * What stands in for a body purged under retention `purge_on_exit`: the
 * sha-256 of its canonical JSON encoding and that encoding's size.
 */
export const PurgedBodySchema = z.object({
  purged: z.literal(true),
  sha256: z.string().openapi({ description: "sha-256 (hex) of the body's canonical JSON" }),
  size: z.number().openapi({ description: "bytes of that encoding" }),
}).openapi("PurgedBody");

/** A process descriptor. */
export const ProcessSchema = z.object({
  pid: z.string(),
  parentPid: z.string().nullable(),
  lineage: z.array(z.string()),
  imageId: z.string(),
  imageVersion: z.string(),
  goal: z.union([z.string(), PurgedBodySchema]),
  forkedFrom: z.string().nullable(),
  state: ProcessStateSchema,
  wait: WaitReasonSchema.nullable(),
  suspendedFrom: ProcessStateSchema.nullable(),
  cwd: z.string(),
  tools: z.array(z.string()),
  jitTools: z.array(z.object({
    name: z.string(),
    hash: z.string(),
    source: z.string(),
    description: z.string(),
    inputSchema: z.record(z.string(), z.unknown()),
    proposedBy: z.string(),
    step: z.number(),
    registered: z.boolean(),
  })),
  budgets: BudgetsSchema,
  usage: z.object({
    steps: z.number(),
    toolCalls: z.number(),
    tokens: z.number(),
    children: z.number(),
    costMicroUsd: z.number().openapi({ description: "model cost in whole micro-dollars" }),
    subtreeTokens: z.number(),
    subtreeCostMicroUsd: z.number(),
    reservedTokens: z.number().openapi({
      description:
        "held by this process's model call in flight: its worst case (prompt estimate + maxTokens), counted as spent until the answer settles it",
    }),
    reservedCostMicroUsd: z.number().openapi({
      description: "the cost held by that call (0 when the model has no price)",
    }),
    subtreeReservedTokens: z.number().openapi({
      description: "held by the model calls in flight of this process and its descendants",
    }),
    subtreeReservedCostMicroUsd: z.number(),
    invalidTurns: z.number().openapi({
      description: "model turns in a row whose every tool call was malformed",
    }),
  }),
  cursor: z.object({
    turn: z.number(),
    calls: z.array(z.object({ id: z.string(), name: z.string(), args: z.unknown() })),
    next: z.number(),
    invalid: z.number(),
  }).nullable(),
  recoveries: z.number().openapi({ description: "kernel crashes this process was resumed after" }),
  result: z.unknown().openapi({
    description: "what exit returned; a PurgedBody once purged",
  }),
  reason: z.string().nullable(),
  retention: z.enum(["keep", "purge_on_exit"]).openapi({
    description: "purge_on_exit: goal, result, journal bodies, namespace objects and human " +
      "previews and answers become PurgedBody when it ends",
  }),
  purgedAt: z.number().nullable().openapi({ description: "when its bodies were purged" }),
  createdAt: z.number(),
  updatedAt: z.number(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
}).openapi("Process");

/** A capability grant. */
export const GrantSchema = z.object({
  id: z.string(),
  subject: z.string(),
  resource: z.string(),
  rights: z.array(z.string()),
  effect: z.enum(["allow", "deny", "ask"]),
  uses: z.number().nullable(),
  expiresAt: z.number().nullable(),
  delegable: z.boolean(),
  parentId: z.string().nullable(),
  issuedBy: z.string(),
  revoked: z.boolean(),
  createdAt: z.number(),
}).openapi("Grant");

/** A request to a human; `preview` is escaped by the kernel. */
export const HumanRequestSchema = z.object({
  id: z.string(),
  pid: z.string(),
  kind: z.enum(["approval", "question", "permission", "outcome", "tool_change"]).openapi({
    description: "outcome: whether a call found in flight after a crash took effect " +
      "(answered happened, retry or fail); tool_change: an MCP tool whose definition changed",
  }),
  state: HumanStateSchema,
  actionHash: z.string().nullable(),
  preview: z.union([z.string(), PurgedBodySchema]).openapi({
    description: "Escaped: no raw control characters, terminal escapes or bidi controls; " +
      "long content is cut with a note. A PurgedBody once its process's bodies were purged",
  }),
  previewSha256: z.string().openapi({
    description: "sha-256 (hex) of the preview as shown and the bound action's hash; " +
      "an answer must send it back",
  }),
  resource: z.string().nullable(),
  rights: z.array(z.string()),
  callId: z.string().nullable(),
  sys: z.number().nullable(),
  grantId: z.string().nullable(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  decidedAt: z.number().nullable(),
  decidedBy: z.string().nullable(),
  answer: z.union([z.string(), PurgedBodySchema]).nullable().openapi({
    description: "a question's answer; an outcome request's decision (happened, retry or fail)",
  }),
  value: z.unknown().optional().openapi({
    description: "an outcome answered happened: the call's result as given (null when none)",
  }),
  scope: z.enum(["once", "always"]).nullable(),
  consumed: z.boolean().openapi({
    description: "whether the approved action ran (an outcome answered retry: whether the " +
      "retry began)",
  }),
}).openapi("HumanRequest");

/** One version of a typed object. */
export const ObjectSchema = z.object({
  oid: z.string(),
  namespace: z.string(),
  name: z.string(),
  type: z.string(),
  payload: z.unknown().openapi({ description: "the content; a PurgedBody once purged" }),
  version: z.number(),
  links: z.array(z.object({ rel: z.string(), oid: z.string() })),
  provenance: z.object({ pid: z.string().nullable(), step: z.number().nullable() }),
  size: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
}).openapi("Object");

/** One journal entry. */
export const JournalEntrySchema = z.object({
  pid: z.string(),
  seq: z.number(),
  at: z.number(),
  kind: z.enum([
    "lifecycle",
    "model.response",
    "tool.start",
    "tool.end",
    "syscall.intent",
    "tool.log",
    "syscall",
    "human",
  ]),
  turn: z.number().nullable(),
  callId: z.string().nullable(),
  sys: z.number().nullable(),
  data: z.record(z.string(), z.unknown()).openapi({
    description: "the entry's body; a PurgedBody once purged (lifecycle entries keep theirs, " +
      "with goal purged)",
  }),
}).openapi("JournalEntry");

/** One audit record as chained. */
export const AuditRecordSchema = z.object({
  seq: z.number(),
  at: z.number(),
  actor: z.string().openapi({ example: "token:alice" }),
  action: z.string(),
  pid: z.string().nullable(),
  resource: z.string().nullable(),
  decision: z.enum(["allow", "deny", "ask"]).nullable(),
  capabilityId: z.string().nullable(),
  step: z.number().nullable(),
  callId: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
}).openapi("AuditRecord");

/** The outcome of verifying the audit chain. */
export const AuditVerificationSchema = z.union([
  z.object({
    ok: z.literal(true),
    count: z.number(),
    head: z.object({ seq: z.number(), hash: z.string() }).nullable(),
  }),
  z.object({ ok: z.literal(false), count: z.number(), seq: z.number(), reason: z.string() }),
]).openapi("AuditVerification");

/** A registered image. */
export const ImageRecordSchema = z.object({
  id: z.string(),
  version: z.string(),
  source: z.string().nullable(),
  image: z.record(z.string(), z.unknown()).openapi({ description: "the validated AgentImage" }),
  registeredAt: z.number(),
}).openapi("ImageRecord");

/** A tool as a model sees it. */
export const ToolSpecSchema = z.object({
  name: z.string(),
  description: z.string(),
  inputSchema: z.record(z.string(), z.unknown()),
}).openapi("ToolSpec");

/** A bearer token's public description (never its secret or hash). */
export const TokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  createdAt: z.number(),
  createdBy: z.string(),
  revoked: z.boolean(),
  ceiling: z.array(GrantSpecSchema).nullable().openapi({
    description:
      "what processes may be given through this token (spawn, register, grant, fork, import); null: no ceiling (admin)",
  }),
}).openapi("TokenInfo");

/** A checkpoint's description (its content stays in the store and the bundle). */
export const CheckpointInfoSchema = z.object({
  id: z.string(),
  pid: z.string().openapi({ description: "the process checkpointed (the root, for a subtree)" }),
  pids: z.array(z.string()),
  reason: z.string().nullable(),
  createdAt: z.number(),
  createdBy: z.string(),
  journalSeq: z.number(),
  hash: z.string(),
}).openapi("CheckpointInfo");

// --------------------------------------------------------------- requests

/** `POST /v1/processes`. */
export const SpawnBodySchema = z.strictObject({
  image: z.union([
    z.string().min(1).max(200).openapi({ description: "a registered image id", example: "hello" }),
    AgentImageSchema,
  ]),
  goal: z.string().max(100_000),
  capabilities: z.array(GrantSpecSchema).max(64).optional(),
  cwd: z.string().max(4096).optional(),
}).openapi("SpawnRequest");

/** `POST /v1/processes/:pid/fork`. */
export const ForkBodySchema = z.strictObject({
  goal: z.string().max(100_000).optional().openapi({ description: "default: the parent's goal" }),
  capabilities: z.array(GrantSpecSchema).max(64).default([]),
  objects: z.array(z.string().min(1).max(512)).max(256).optional(),
}).openapi("ForkRequest");

/** `POST /v1/processes/:pid/signal`. */
export const SignalBodySchema = z.strictObject({
  signal: z.enum(["pause", "resume", "cancel", "kill"]),
}).openapi("SignalRequest");

/** `POST /v1/human/:id`. */
export const DecisionBodySchema = z.strictObject({
  decision: z.enum(["approve", "deny", "answer", "happened", "retry", "fail"]).openapi({
    description: "approve or deny (approval, permission); answer or deny (question); " +
      "happened, retry or fail (outcome)",
  }),
  previewSha256: z.string().regex(/^[0-9a-f]{64}$/, "the request's previewSha256 (64 hex)")
    .openapi({
      description: "the previewSha256 of the request as shown to the human; another is 409 ESTALE",
    }),
  answer: z.string().max(100_000).optional(),
  value: z.unknown().optional().openapi({
    description: "with happened: the call's result (JSON), journaled as what the call returned " +
      "(default null)",
  }),
  scope: z.enum(["once", "always"]).optional(),
}).openapi("HumanDecision");

/** `POST /v1/tokens`. */
export const TokenCreateBodySchema = z.strictObject({
  role: RoleSchema,
  name: z.string().regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "a lower-case name of letters, digits, . _ -",
  )
    .optional().openapi({ description: "default: <role>-<id>" }),
  ceiling: z.array(GrantSpecSchema).max(64).optional().openapi({
    description:
      "an operator's authority ceiling (default empty: it may give processes nothing beyond registered images); not for admin tokens, which have none",
  }),
}).openapi("TokenCreateRequest");

/** `POST /v1/processes/:pid/checkpoints`. */
export const CheckpointBodySchema = z.strictObject({
  reason: z.string().max(4000).optional(),
  subtree: z.boolean().optional().openapi({
    description: "include every live descendant (default false)",
  }),
}).openapi("CheckpointRequest");

/** `GET /v1/processes`. */
export const ProcessListQuery = z.object({
  state: ProcessStateSchema.optional(),
  parent: pid.optional(),
});

/** `GET /v1/processes/:pid/wait`. */
export const WaitQuery = z.object({
  timeoutMs: intQuery(0, 300_000).optional().openapi({
    description: "how long to wait at most (default 30000, at most the server's limit)",
  }),
  until: z.enum(["settled", "terminal"]).optional().openapi({
    description: "settled (default): terminal or waiting; terminal: only a terminal state",
  }),
});

/** `GET /v1/human`. */
export const HumanListQuery = z.object({
  state: HumanStateSchema.optional(),
  pid: pid.optional(),
});

/** `GET /v1/audit`. */
export const AuditQuerySchema = z.object({
  pid: pid.optional(),
  action: z.string().min(1).max(128).optional(),
  after: intQuery(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intQuery(1, 1000).optional().openapi({ description: "default 100" }),
});

/** `GET /v1/processes/:pid/journal`. */
export const JournalQuerySchema = z.object({
  after: intQuery(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intQuery(1, 1000).optional().openapi({ description: "default 200" }),
});

/** `GET /v1/processes/:pid/objects`. */
export const ObjectsQuery = z.object({
  namespace: z.string().min(1).max(512).optional().openapi({
    description: "default: the process's own namespace proc/<pid>",
  }),
});

/** `GET /v1/events`. */
export const EventsQuery = z.object({
  pid: z.string().max(2048).optional().openapi({
    description: "comma-separated pids: only events about them",
  }),
  types: z.string().max(128).optional().openapi({
    description: "comma-separated event types (process, human, audit); default all",
  }),
});

// ------------------------------------------------- compile-time agreement

type _Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type _Assert<T extends true> = T;
/** The record schemas describe exactly the kernel's records. */
export type _SchemasAgree = [
  _Assert<_Same<z.infer<typeof ProcessSchema>, ProcessRecord>>,
  _Assert<_Same<z.infer<typeof GrantSchema>, Grant>>,
  _Assert<_Same<z.infer<typeof HumanRequestSchema>, HumanRequest>>,
  _Assert<_Same<z.infer<typeof ObjectSchema>, ObjectRecord>>,
  _Assert<_Same<z.infer<typeof JournalEntrySchema>, JournalEntry>>,
  _Assert<_Same<z.infer<typeof AuditRecordSchema>, AuditRecord>>,
  _Assert<
    _Same<z.infer<typeof CheckpointInfoSchema>, Awaited<ReturnType<Kernel["createCheckpoint"]>>>
  >,
  _Assert<ImageRecord extends z.infer<typeof ImageRecordSchema> ? true : false>,
];
