/**
 * The zod schemas shared by the kernel, the image loader and (later) the HTTP
 * API: an agent image, a grant request, budgets, model settings. One schema
 * serves validation, TypeScript types and JSON Schema generation.
 *
 * @module
 */
import { z } from "zod";

/** The rights a grant may carry, by resource kind (see DESIGN §3). */
export const RIGHTS_BY_KIND = {
  fs: ["read", "write", "delete", "list"],
  net: ["fetch"],
  obj: ["read", "write", "delete", "link"],
  ns: ["list", "admin"],
  proc: ["spawn", "fork", "exec", "signal"],
  human: ["ask", "notify"],
  shell: ["exec"],
  model: ["call"],
  tool: ["register"],
  image: ["register"],
  checkpoint: ["create", "restore", "export"],
  /** `mcp:<server>/<tool>` (call) and `mcp:<server>/resource:<uri>` (read). */
  mcp: ["call", "read"],
  mbox: ["send", "receive"],
} as const satisfies Record<string, readonly string[]>;

/** A resource kind: the part of a resource before the first colon. */
export type ResourceKind = keyof typeof RIGHTS_BY_KIND;

/** The effect of a grant. */
export const EffectSchema = z.enum(["allow", "deny", "ask"]);
/** The effect of a grant: `allow`, `deny` or `ask` (a human decides). */
export type Effect = z.infer<typeof EffectSchema>;

/**
 * A grant as written in an image, a spawn or fork request, or an operator's
 * grant: `{"resource": "fs:src/**", "rights": ["read"]}`.
 */
export const GrantSpecSchema = z.strictObject({
  resource: z.string().min(1).max(1024).describe("a resource pattern, e.g. fs:src/**"),
  rights: z.array(z.string().min(1).max(32)).min(1).max(16),
  effect: EffectSchema.optional(),
  uses: z.number().int().positive().optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  delegable: z.boolean().optional(),
});
/** A grant as requested (before the kernel validates and issues it). */
export type GrantSpec = z.infer<typeof GrantSpecSchema>;

/** Process budgets; every field is optional, an absent one is unlimited. */
export const BudgetsSchema = z.strictObject({
  steps: z.number().int().positive().optional(),
  toolCalls: z.number().int().positive().optional(),
  tokens: z.number().int().positive().optional(),
  wallTimeMs: z.number().int().positive().optional(),
  children: z.number().int().nonnegative().optional(),
  /** Model cost of this process, in US dollars. */
  costUsd: z.number().positive().optional(),
  /** Tokens and cost of this process and all its descendants together. */
  subtreeTokens: z.number().int().positive().optional(),
  subtreeCostUsd: z.number().positive().optional(),
});
/** Process budgets. */
export type Budgets = z.infer<typeof BudgetsSchema>;

/** One tool call a scripted model makes. */
export const ScriptedCallSchema = z.strictObject({
  tool: z.string().min(1),
  args: z.record(z.string(), z.unknown()).default({}),
});

/** One turn of a scripted model: tool calls, text, or both. */
export const ScriptedStepSchema = z.union([
  ScriptedCallSchema,
  z.strictObject({
    text: z.string().optional(),
    calls: z.array(ScriptedCallSchema).optional(),
  }),
]);
/** One turn of a scripted model. */
export type ScriptedStep = z.infer<typeof ScriptedStepSchema>;

/** The model an image runs on. */
export const ModelSpecSchema = z.union([
  z.strictObject({
    provider: z.literal("scripted"),
    name: z.string().optional(),
    steps: z.array(ScriptedStepSchema),
    /** The script a forked child follows (default: `steps`). */
    forked: z.array(ScriptedStepSchema).optional(),
  }),
  z.strictObject({
    provider: z.string().min(1).regex(/^[a-z][a-z0-9_-]*$/),
    name: z.string().min(1),
    options: z.record(z.string(), z.unknown()).optional(),
  }),
]);
/** The model an image runs on. */
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** A seed object of an image's memory. */
export const SeedObjectSchema = z.strictObject({
  name: z.string().min(1).max(256),
  type: z.string().min(1).max(64),
  payload: z.unknown(),
});

/** What a process keeps when it ends: see runtime/retention/purge.ts. */
export const RetentionSchema = z.enum(["keep", "purge_on_exit"]);
/**
 * What recovery does with a non-idempotent syscall found in flight after a
 * crash (a program, a non-GET fetch): `"fail"` (the default) answers it
 * `EUNKNOWN`; `"ask"` waits on a human request of kind `outcome`, answered
 * `happened`, `retry` or `fail`.
 */
export const RecoverySchema = z.strictObject({
  onUnknownOutcome: z.enum(["fail", "ask"]).optional().describe(
    'what recovery does with a non-idempotent call found in flight: "fail" (default, EUNKNOWN) or "ask" (a human decides)',
  ),
});
/** An image's recovery settings. */
export type Recovery = z.infer<typeof RecoverySchema>;

/** An agent image: the initial state of a process (DESIGN §2). */
export const AgentImageSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "a lower-case id of letters, digits, . _ -"),
  name: z.string().min(1).max(200),
  version: z.string().min(1).max(64),
  description: z.string().max(4000).default(""),
  systemPrompt: z.string().max(100_000).default(""),
  model: ModelSpecSchema,
  tools: z.array(z.string().min(1).max(128)).default([]),
  capabilities: z.array(GrantSpecSchema).default([]),
  budgets: BudgetsSchema.default({}),
  memory: z.array(SeedObjectSchema).default([]),
  /**
   * What happens to its processes' bodies when they end (README "Retention").
   * `purge_on_exit` here, in the kernel's setting or in a parent process wins.
   */
  retention: RetentionSchema.default("keep"),
  /** Absent: every setting at its default (an image stored before it keeps its form). */
  recovery: RecoverySchema.optional(),
  /**
   * MCP tools the process wants, by server (as the operator's MCP config
   * names it): tool names or `*` globs, e.g. `{"everything": ["echo", "get-*"]}`.
   * They appear in the tool table as `<server>.<tool>`.
   */
  mcp: z.record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "a server name of letters, digits, _ -"),
    z.array(z.string().min(1).max(128)).max(256),
  ).default({}),
});
/** A validated agent image. */
export type AgentImage = z.infer<typeof AgentImageSchema>;
/** An agent image as written (defaults not yet applied). */
export type AgentImageInput = z.input<typeof AgentImageSchema>;
