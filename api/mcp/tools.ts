/**
 * The MCP tools of the control plane, one table: each tool's name, the role
 * it needs (the same as its HTTP route's), its input schema and what it
 * runs. Every tool calls the kernel method, or the shared query, that its
 * HTTP route calls (`api/process_queries.ts`), as the calling token: a spawn
 * is held to the token's ceiling and every change is audited by the kernel
 * with the token as the actor.
 *
 * @module
 */
import { z } from "zod";
import type { ApiContext } from "../context.ts";
import { actorOf } from "../context.ts";
import {
  listClusterProcesses,
  processJournal,
  processObjects,
  waitProcess,
} from "../process_queries.ts";
import { clusterHumanRequests, findHumanRequest, findProcess } from "../cluster_reach.ts";
import { callAtOwner } from "../owner_routing.ts";
import { placeSpawn } from "../placement.ts";
import { checkIfMatch, withRevision } from "../revision.ts";
import {
  DecisionBodySchema,
  HumanListQuery,
  IdParams,
  JournalQuerySchema,
  OidParams,
  PidParams,
  ProcessListQuery,
  SignalBodySchema,
  SpawnBodySchema,
  WaitQuery,
} from "../schemas.ts";
import type { Principal, Role } from "../token_store.ts";

/** What a tool runs with: the control plane, the caller, and the call's abort signal. */
export interface ToolCall {
  ctx: ApiContext;
  principal: Principal;
  /** Aborted when the client cancels the call or goes away. */
  signal: AbortSignal;
}

/** One MCP tool. */
export interface McpTool<S extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  /** The weakest role that may call it (and see it in `tools/list`). */
  role: Role;
  /** Its arguments, validated before it runs; published as its `inputSchema`. */
  input: S;
  /** Runs the call; the answer is the tool's structured content. */
  run(call: ToolCall, args: z.output<S>): Promise<object>;
}

/** Declares a tool with its argument types inferred from its schema. */
function _tool<S extends z.ZodType>(tool: McpTool<S>): McpTool {
  return tool as unknown as McpTool;
}

const revision = z.string().min(1).max(200).optional().describe(
  "the revision the caller last read; another is an EREVISION error and nothing changes",
);

/** Every tool, read tools first. */
export const MCP_TOOLS: readonly McpTool[] = [
  _tool({
    name: "list_processes",
    title: "List processes",
    description: "Processes of the whole cluster in pid order, optionally by state and parent, " +
      "each with its revision.",
    role: "viewer",
    input: z.strictObject(ProcessListQuery.shape),
    run: async ({ ctx }, args) => {
      const processes = await listClusterProcesses(ctx.kernel, {
        ...(args.state === undefined ? {} : { state: args.state }),
        ...(args.parent === undefined ? {} : { parent: args.parent }),
      });
      return { processes };
    },
  }),
  _tool({
    name: "get_process",
    title: "Read a process",
    description: "One process descriptor (state, goal, image, usage) with its revision.",
    role: "viewer",
    input: z.strictObject(PidParams.shape),
    run: async ({ ctx }, args) => withRevision(await findProcess(ctx.kernel, args.pid)),
  }),
  _tool({
    name: "wait_process",
    title: "Wait for a process",
    description: "Waits until the process is terminal or waiting (or only terminal, with " +
      "until=terminal), at most timeoutMs (default 30000, capped by the server); answers " +
      "{process, timedOut}.",
    role: "viewer",
    input: z.strictObject({ ...PidParams.shape, ...WaitQuery.shape }),
    run: ({ ctx, signal }, args) =>
      waitProcess(ctx, args.pid, {
        ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
        ...(args.until === undefined ? {} : { until: args.until }),
        signal,
      }),
  }),
  _tool({
    name: "read_journal",
    title: "Read a journal",
    description: "A process's journal in order: entries after sequence number `after`, at " +
      "most `limit` (default 200).",
    role: "viewer",
    input: z.strictObject({ ...PidParams.shape, ...JournalQuerySchema.shape }),
    run: async ({ ctx }, args) => ({
      entries: await processJournal(ctx.kernel, args.pid, {
        ...(args.after === undefined ? {} : { after: args.after }),
        ...(args.limit === undefined ? {} : { limit: args.limit }),
      }),
    }),
  }),
  _tool({
    name: "list_objects",
    title: "List objects",
    description: "The newest version of each object of a namespace (default: the process's " +
      "own, proc/<pid>).",
    role: "viewer",
    input: z.strictObject({
      ...PidParams.shape,
      namespace: z.string().min(1).max(512).optional(),
    }),
    run: ({ ctx }, args) => Promise.resolve(processObjects(ctx.kernel, args.pid, args.namespace)),
  }),
  _tool({
    name: "read_object",
    title: "Read an object",
    description: "One object by oid (its newest version).",
    role: "viewer",
    input: z.strictObject(OidParams.shape),
    run: ({ ctx }, args) => Promise.resolve({ ...ctx.kernel.object(args.oid) }),
  }),
  _tool({
    name: "list_human_requests",
    title: "List human requests",
    description: "Human requests (approvals, questions, permissions), oldest first, optionally " +
      "by state and pid; each carries its escaped preview and previewSha256.",
    role: "viewer",
    input: z.strictObject(HumanListQuery.shape),
    run: async ({ ctx }, args) => {
      const requests = (await clusterHumanRequests(ctx.kernel, {
        ...(args.state === undefined ? {} : { state: args.state }),
        ...(args.pid === undefined ? {} : { pid: args.pid }),
      })).map(withRevision);
      return { requests };
    },
  }),
  _tool({
    name: "spawn_process",
    title: "Spawn a process",
    description: "Spawns a process from a registered image id with a goal. Extra " +
      "capabilities may be no wider than the token's ceiling (else EPERM, nothing spawned).",
    role: "operator",
    input: z.strictObject({
      image: z.string().min(1).max(200).describe("a registered image id"),
      goal: SpawnBodySchema.shape.goal,
      capabilities: SpawnBodySchema.shape.capabilities,
      cwd: SpawnBodySchema.shape.cwd,
    }),
    run: async ({ ctx, principal }, args) => {
      const request = {
        image: args.image,
        goal: args.goal,
        ...(args.capabilities === undefined ? {} : { capabilities: args.capabilities }),
        ...(args.cwd === undefined ? {} : { cwd: args.cwd }),
      };
      // Placed as POST /v1/processes places it (docs/cluster.md "Placement").
      const there = await placeSpawn(ctx.kernel);
      if (there !== null) {
        return await ctx.forwarder.spawn(there, request, {
          actor: actorOf(principal),
          command: null,
        });
      }
      const p = await ctx.kernel.spawn(request, actorOf(principal));
      return { pid: p.pid, process: p };
    },
  }),
  _tool({
    name: "answer_human_request",
    title: "Answer a human request",
    description: "Approves, denies or answers a pending human request. previewSha256 must be " +
      "the request's as read (another is ESTALE and the request stays pending).",
    role: "operator",
    input: z.strictObject({ ...IdParams.shape, ...DecisionBodySchema.shape, revision }),
    run: async ({ ctx, principal }, args) => {
      const decision = {
        decision: args.decision,
        previewSha256: args.previewSha256,
        ...(args.answer === undefined ? {} : { answer: args.answer }),
        ...(args.scope === undefined ? {} : { scope: args.scope }),
      };
      // Another kernel's process: its owner decides, as POST /v1/human/{id} there.
      const { pid } = await findHumanRequest(ctx.kernel, args.id);
      const remote = await callAtOwner(ctx, principal, pid, {
        method: "POST",
        path: `/v1/human/${encodeURIComponent(args.id)}`,
        body: decision,
        ...(args.revision === undefined ? {} : { ifMatch: args.revision }),
      });
      if (remote !== null) return remote as object;
      checkIfMatch(args.revision, ctx.kernel.humanRequest(args.id));
      return withRevision(await ctx.kernel.answer(args.id, decision, actorOf(principal)));
    },
  }),
  _tool({
    name: "signal_process",
    title: "Signal a process",
    description: "Pauses, resumes, cancels or kills a process (and its subtree).",
    role: "operator",
    input: z.strictObject({ ...PidParams.shape, ...SignalBodySchema.shape, revision }),
    run: async ({ ctx, principal }, args) => {
      // Another kernel's process: its owner signals, as POST /v1/processes/{pid}/signal there.
      const remote = await callAtOwner(ctx, principal, args.pid, {
        method: "POST",
        path: `/v1/processes/${encodeURIComponent(args.pid)}/signal`,
        body: { signal: args.signal },
        ...(args.revision === undefined ? {} : { ifMatch: args.revision }),
      });
      if (remote !== null) return remote as object;
      checkIfMatch(args.revision, ctx.kernel.get(args.pid));
      return withRevision(await ctx.kernel.signal(args.pid, args.signal, actorOf(principal)));
    },
  }),
];
