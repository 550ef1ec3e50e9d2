/**
 * One quantum of an LLM process: materialize its context, make one model call
 * (the `model.complete` primitive), dispatch the returned tool calls in order,
 * append their results. A call that must wait (a human, a child, a timer)
 * parks the process; when it wakes, the same call runs again from its start
 * and its completed syscalls answer from the journal.
 *
 * @module
 */
import { Batch } from "../engine/batch.ts";
import { effectiveJournal } from "../checkpoint/checkpoints.ts";
import { hasCode, toErrorData } from "../errors.ts";
import type { KernelCore as Kernel } from "../kernel_core.ts";
import type { LiveState } from "./process_table.ts";
import type { ContextMessage, ModelResponse, ToolSpec } from "../models/model_provider.ts";
import { primitiveTool, primitiveToolSpec } from "../engine/primitive_tools.ts";
import { type ElidedResult, estimateTokens, fitContext, messageTokens } from "./context_policy.ts";
import { costOf, type Price, priceOf, toMicroUsd } from "../models/cost.ts";
import {
  type BudgetScope,
  type CallEstimate,
  checkModelCall,
  worstCase,
} from "../models/model_budget.ts";
import { chargeHeld, reserveModelCall, settleModelCall } from "./model_reservation.ts";
import { parseModelOptions } from "../models/model_options.ts";
import { isMalformedArgs, malformedCallResult } from "./tool_call_args.ts";
import { Syscalls } from "../engine/syscalls.ts";
import { dispatchSyscall } from "../engine/syscall_table.ts";
import { mcpToolOf, mcpToolSpecs } from "../primitives/mcp.ts";
import type { HostedTool } from "../tool_host.ts";
import type { JournalEntry, Pid, ProcessRecord, ToolCall, ToolResult } from "../types.ts";
import { bodyText } from "../retention/purge.ts";

const WAITING = Symbol("waiting");

/** Recovery attempts a process gets before it is quarantined. */
export const MAX_RECOVERIES = 3;

/**
 * Runs one quantum of a runnable process. A completed quantum resets the
 * process's recovery count. A suspect (resumed after a crash before, and not
 * through a step since) runs its first quantum alone, its attempt counted
 * durably before it starts, so a process that brings the kernel down on every
 * resume is quarantined after MAX_RECOVERIES attempts and the others are not
 * blamed.
 */
export async function runQuantum(k: Kernel, pid: Pid): Promise<void> {
  const p = k.procs.find(pid);
  if (p === undefined || p.state !== "runnable") return;
  const live = k.procs.liveOf(pid);
  if (live.probation) {
    live.probation = false;
    return await k.lifecycle.probation(async () => {
      const batch = new Batch();
      if (p.recoveries >= MAX_RECOVERIES) {
        k.lifecycle.transition(batch, p, "failed", {
          reason:
            `quarantined: the kernel went down during each of its last ${MAX_RECOVERIES} resumes`,
        });
        await k.records.commit(batch);
        return;
      }
      p.recoveries += 1;
      k.records.saveProcess(batch, p);
      await k.records.commit(batch);
      await _quantum(k, p, live);
    });
  }
  await _quantum(k, p, live);
}

async function _quantum(
  k: Kernel,
  p: ProcessRecord,
  live: LiveState,
): Promise<void> {
  if (p.state !== "runnable") return;
  const pid = p.pid;
  const batch = new Batch();
  k.lifecycle.transition(batch, p, "running");
  const abort = new AbortController();
  live.abort = abort;
  try {
    if (live.messages === null) await _materialize(k, p, live);
    const over = _budgetExceeded(k, p);
    if (over !== null) return _fail(k, batch, p, over);
    if (p.cursor === null || p.cursor.next >= p.cursor.calls.length) {
      const limit = p.budgets.steps;
      if (limit !== undefined && p.usage.steps >= limit) {
        return _fail(k, batch, p, `budget: steps (${limit}) spent`);
      }
      const response = await _modelTurn(k, p, live.messages!, abort.signal, batch);
      if (!_running(p)) return;
      if (response === null) return;
      // The response is durable before the first of its tools runs: a crash
      // from here on never calls (or bills) the model for this turn again. A
      // replayable (scripted) response of primitive calls only rides on the
      // next commit, which every primitive makes before an outside effect.
      const provider = k.models.get(k.spawner.image(p).model.provider);
      if (
        provider?.replayable !== true ||
        response.calls.some((c) => primitiveTool(c.name) === undefined)
      ) await k.records.commit(batch);
      if (response.stop === "exhausted") {
        return _fail(k, batch, p, response.text ?? "the script ran out");
      }
      if (response.stop !== "tool_calls" && response.calls.length === 0) {
        // A final answer from a real model ends the process with it.
        p.result = { text: response.text };
        k.lifecycle.transition(batch, p, "exited", { reason: response.stop });
        return;
      }
      const tokens = p.budgets.tokens;
      if (tokens !== undefined && p.usage.tokens > tokens) {
        return _fail(k, batch, p, `budget: tokens (${tokens}) spent`);
      }
    }
    const cursor = p.cursor!;
    while (cursor.next < cursor.calls.length && _running(p)) {
      const limit = p.budgets.toolCalls;
      if (limit !== undefined && p.usage.toolCalls >= limit) {
        return _fail(k, batch, p, `budget: tool calls (${limit}) spent`);
      }
      const call = cursor.calls[cursor.next]!;
      const result = await _dispatch(k, p, live.replay, call, cursor.turn, batch);
      if (result === WAITING) return;
      if (_refusedBeforeSyscall(result)) cursor.invalid += 1;
      k.records.journal(batch, pid, "tool.end", { name: call.name, result }, {
        turn: cursor.turn,
        callId: call.id,
      });
      live.messages!.push({ role: "tool", callId: call.id, name: call.name, result });
      live.replay.clear();
      cursor.next += 1;
      p.usage.toolCalls += 1;
    }
    if (_running(p) && cursor.next >= cursor.calls.length && cursor.calls.length > 0) {
      // One repair turn: a turn whose every call was malformed is answered
      // with the errors; a second such turn in a row ends the process.
      p.usage.invalidTurns = cursor.invalid === cursor.calls.length ? p.usage.invalidTurns + 1 : 0;
      // A script is exact and free: the limit guards against a real model
      // that loops (and bills) on malformed calls.
      if (p.usage.invalidTurns >= 2 && k.spawner.image(p).model.provider !== "scripted") {
        return _fail(
          k,
          batch,
          p,
          `model: tool calls malformed on two turns in a row (turn ${cursor.turn})`,
        );
      }
    }
    if (_running(p)) {
      k.lifecycle.transition(batch, p, "runnable");
    } else {
      k.records.saveProcess(batch, p);
    }
  } catch (error) {
    if (_running(p)) {
      _fail(k, batch, p, `kernel error: ${toErrorData(error).message}`);
    } else throw error;
  } finally {
    live.abort = null;
    // The quantum got through: its recovery count is cleared with its end
    // (never before: a commit made mid-quantum, e.g. before a model call,
    // must not clear the count of a quantum that may yet bring the kernel down).
    if (p.recoveries > 0) {
      p.recoveries = 0;
      k.records.saveProcess(batch, p);
    }
    // A quantum that leaves the process runnable, with results that are safe
    // to redo, goes on without waiting for its batch: the next quantum's
    // first commit (made before any effect) lands after it. One durable
    // commit per step instead of two.
    if (p.state === "runnable" && !batch.mustAwait) k.lifecycle.commitBehind(batch, p.pid);
    else {
      await k.records.commit(batch);
      _swapOutIfParkedOnHuman(p, live);
    }
  }
}

/**
 * A process parked on a human (minutes, often) gives back its context: the
 * messages and replay entries are read again from its journal, which now
 * holds all of them, when it next runs (measured: 3.3 KB of V8 heap per
 * waiting process instead of 4.05).
 */
function _swapOutIfParkedOnHuman(p: ProcessRecord, live: LiveState): void {
  if (p.state !== "waiting" || p.wait?.kind !== "human") return;
  live.messages = null;
  live.replay.clear();
}

/** A tool result refused by dispatch itself (unknown tool, malformed or invalid arguments). */
function _refusedBeforeSyscall(result: ToolResult): boolean {
  return !result.ok && (result.error.code === "ENOENT" || result.error.code === "EINVAL") &&
    result.error.message.startsWith("Cannot call tool ");
}

/** Whether a process is still running (a signal may have changed it mid-quantum). */
function _running(p: ProcessRecord): boolean {
  return p.state === "running";
}

function _fail(k: Kernel, batch: Batch, p: ProcessRecord, reason: string): void {
  k.lifecycle.transition(batch, p, "failed", { reason });
}

function _budgetExceeded(k: Kernel, p: ProcessRecord): string | null {
  const wall = p.budgets.wallTimeMs;
  if (wall !== undefined && p.startedAt !== null && k.clock.now() - p.startedAt > wall) {
    return `budget: wall time (${wall} ms) spent`;
  }
  return null;
}

/** The tools the model sees: exactly its process's table. */
function _toolSpecs(k: Kernel, p: ProcessRecord): ToolSpec[] {
  const out: ToolSpec[] = [];
  for (const name of p.tools) {
    const spec = primitiveToolSpec(name);
    if (spec !== undefined) {
      out.push(spec);
      continue;
    }
    const jit = p.jitTools.find((t) => t.registered && t.name === name);
    const hosted = jit ?? k.toolHost?.tool(name);
    if (hosted !== undefined) {
      out.push({ name, description: hosted.description, inputSchema: hosted.inputSchema });
    }
  }
  return out;
}

/** The `model.complete` primitive: capability, call, journal, usage. */
async function _modelTurn(
  k: Kernel,
  p: ProcessRecord,
  messages: ContextMessage[],
  signal: AbortSignal,
  batch: Batch,
): Promise<ModelResponse | null> {
  const image = k.spawner.image(p);
  const provider = k.models.get(image.model.provider);
  const turn = p.cursor === null ? 0 : p.cursor.turn + 1;
  if (provider === undefined) {
    _fail(k, batch, p, `no model provider '${image.model.provider}' is configured`);
    return null;
  }
  if (image.model.provider !== "scripted") {
    // A real model costs money and sends the context away: it needs a grant.
    const name = "name" in image.model ? image.model.name ?? "" : "";
    const resource = `model:${image.model.provider}/${name}`;
    const { decision, grant } = k.authorizer.decide(p.pid, resource, "call");
    k.records.audit(batch, {
      actor: `pid:${p.pid}`,
      action: "model.complete",
      pid: p.pid,
      resource,
      decision: decision === "ask" ? "deny" : decision,
      capabilityId: grant?.id ?? null,
      step: p.usage.steps,
    });
    if (decision !== "allow") {
      _fail(
        k,
        batch,
        p,
        `Cannot call model '${resource}': process ${p.pid} holds no model call capability for it`,
      );
      return null;
    }
    // A counted grant is spent by the call, whatever comes of it; the
    // decision and the spend are durable before the model is asked.
    if (grant !== null && grant.uses !== null) {
      grant.uses -= 1;
      k.records.saveGrant(batch, grant);
    }
  }
  const tools = [..._toolSpecs(k, p), ...await mcpToolSpecs(k, p, batch)];
  let sent: ContextMessage[] = messages;
  let price: Price | null = null;
  if (image.model.provider !== "scripted") {
    const model = image.model as {
      provider: string;
      name: string;
      options?: Record<string, unknown>;
    };
    const target = `${model.provider}/${model.name}`;
    let options;
    try {
      options = parseModelOptions(target, model.options ?? {});
    } catch (error) {
      _fail(k, batch, p, toErrorData(error).message);
      return null;
    }
    if (options.contextTokens !== undefined) {
      const fit = fitContext(messages, {
        budget: options.contextTokens,
        system: image.systemPrompt,
        tools,
      });
      if (!fit.fits) {
        _fail(
          k,
          batch,
          p,
          `context: the prompt needs ~${fit.tokens} tokens even with old results moved out, more than model.options.contextTokens (${options.contextTokens})`,
        );
        return null;
      }
      _keepElided(k, batch, p, fit.elided);
      sent = fit.messages;
    }
    price = priceOf(model.provider, model.name, options.price);
    const estimate: CallEstimate = {
      inputTokens: estimateTokens(image.systemPrompt) + sent.reduce((n, m) =>
        n + messageTokens(m), 0) +
        tools.reduce(
          (n, t) => n + estimateTokens(t.name + t.description + JSON.stringify(t.inputSchema)),
          0,
        ),
      maxOutputTokens: options.maxTokens ?? 4096,
      price,
      target,
    };
    // The check and the hold are one synchronous step: a sibling's call
    // checked after this one counts this one's worst case as spent.
    const reason = checkModelCall(estimate, _budgetScopes(k, p));
    if (reason !== null) {
      _fail(k, batch, p, reason);
      return null;
    }
    reserveModelCall(k, batch, p, worstCase(estimate));
  }
  if (image.model.provider !== "scripted") await k.records.commit(batch);
  let response: ModelResponse;
  try {
    response = await provider.complete({
      pid: p.pid,
      model: image.model,
      forked: p.forkedFrom !== null,
      system: image.systemPrompt,
      messages: sent,
      tools,
      turn,
      signal,
      onDelta: (text) => {
        if (k.events.size > 0) k.events.emit({ type: "model.delta", pid: p.pid, turn, text });
      },
    });
  } catch (error) {
    if (_refusedByServer(error)) settleModelCall(k, batch, p, { tokens: 0, costMicroUsd: 0 });
    else chargeHeld(k, batch, p, { cause: "cancelled", actor: "kernel" });
    if (!_running(p)) return null;
    _fail(k, batch, p, `model call failed: ${toErrorData(error).message}`);
    return null;
  }
  const calls: ToolCall[] = response.calls.map((c, i) => ({
    id: `c${turn}.${i}`,
    name: c.name,
    args: c.args,
  }));
  const tokens = response.usage.inputTokens + response.usage.outputTokens;
  const cost = price === null ? 0 : toMicroUsd(costOf(response.usage, price));
  k.records.journal(batch, p.pid, "model.response", {
    text: response.text,
    calls,
    usage: response.usage,
    costMicroUsd: cost,
    stop: response.stop,
  }, { turn });
  messages.push({ role: "assistant", text: response.text, calls });
  p.cursor = { turn, calls, next: 0, invalid: 0 };
  p.usage.steps += 1;
  // The hold (if any) gives way to the real usage, here and in every subtree above.
  settleModelCall(k, batch, p, { tokens, costMicroUsd: cost });
  k.records.saveProcess(batch, p);
  return response;
}

/**
 * The budgets that govern a model call: the process's own, and each subtree
 * above it, each with what is spent and what calls in flight hold.
 */
function _budgetScopes(k: Kernel, p: ProcessRecord): BudgetScope[] {
  const scopes: BudgetScope[] = [{
    label: `process ${p.pid}`,
    limits: {
      ...(p.budgets.tokens === undefined ? {} : { tokens: p.budgets.tokens }),
      ...(p.budgets.costUsd === undefined ? {} : { costUsd: p.budgets.costUsd }),
    },
    used: { tokens: p.usage.tokens, costUsd: p.usage.costMicroUsd / 1e6 },
    reserved: { tokens: p.usage.reservedTokens, costUsd: p.usage.reservedCostMicroUsd / 1e6 },
  }];
  for (const q of [p, ...p.lineage.map((a) => k.procs.find(a))]) {
    if (q === undefined) continue;
    const { subtreeTokens, subtreeCostUsd } = q.budgets;
    if (subtreeTokens === undefined && subtreeCostUsd === undefined) continue;
    scopes.push({
      label: `the subtree of ${q.pid}`,
      limits: {
        ...(subtreeTokens === undefined ? {} : { tokens: subtreeTokens }),
        ...(subtreeCostUsd === undefined ? {} : { costUsd: subtreeCostUsd }),
      },
      used: { tokens: q.usage.subtreeTokens, costUsd: q.usage.subtreeCostMicroUsd / 1e6 },
      reserved: {
        tokens: q.usage.subtreeReservedTokens,
        costUsd: q.usage.subtreeReservedCostMicroUsd / 1e6,
      },
    });
  }
  return scopes;
}

/**
 * A model call the server refused outright (HTTP 401/403, 400/404/413/422,
 * 429: a bad key, a bad request, a rate limit): nothing was generated, so its
 * hold is released. Any other failure may have run, and is charged its hold.
 */
function _refusedByServer(error: unknown): boolean {
  return hasCode(error, "EPERM") || hasCode(error, "EINVAL") || hasCode(error, "ELIMIT");
}

/** Results the context policy moved out of the prompt are kept as objects. */
function _keepElided(
  k: Kernel,
  batch: Batch,
  p: ProcessRecord,
  elided: readonly ElidedResult[],
): void {
  const ns = `proc/${p.pid}`;
  for (const e of elided) {
    if (k.objects.find(ns, e.name) !== undefined) continue;
    const r = e.result;
    k.objectWriter.put(batch, {
      namespace: ns,
      name: e.name,
      type: "tool_result",
      payload: r.ok
        ? { tool: e.tool, ok: true, value: r.value ?? null }
        : { tool: e.tool, ok: false, error: r.error },
      provenance: { pid: p.pid, step: p.usage.steps },
    });
  }
}

/** Runs one tool call; model-facing errors become failed results. */
async function _dispatch(
  k: Kernel,
  p: ProcessRecord,
  replay: Map<number, JournalEntry>,
  call: ToolCall,
  turn: number,
  batch: Batch,
): Promise<ToolResult | typeof WAITING> {
  const listed = p.tools.includes(call.name);
  const tool = listed ? primitiveTool(call.name) : undefined;
  const jit = listed && tool === undefined
    ? p.jitTools.find((t) => t.registered && t.name === call.name)
    : undefined;
  const hosted: HostedTool | undefined = jit !== undefined
    ? {
      name: jit.name,
      description: jit.description,
      inputSchema: jit.inputSchema,
      path: `jit:${jit.hash}`,
      hash: jit.hash,
    }
    : listed && tool === undefined
    ? k.toolHost?.tool(call.name)
    : undefined;
  const mcp = tool === undefined && hosted === undefined ? mcpToolOf(k, p, call.name) : null;
  if (mcp !== null) {
    if (isMalformedArgs(call.args)) return malformedCallResult(call.name, call.args);
    const sys = new Syscalls(k, p, { batch, callId: call.id, turn, replay });
    try {
      const args = (call.args ?? {}) as Record<string, unknown>;
      return { ok: true, value: await sys.mcpCall(mcp.server, mcp.tool, args) };
    } catch (error) {
      if (hasCode(error, "EWAITING")) return WAITING;
      return { ok: false, error: toErrorData(error) };
    }
  }
  if (tool === undefined && hosted === undefined) {
    return {
      ok: false,
      error: {
        code: "ENOENT",
        message: `Cannot call tool '${call.name}': it is not in process ${p.pid}'s tool table (${
          p.tools.join(", ")
        })`,
      },
    };
  }
  if (isMalformedArgs(call.args)) return malformedCallResult(call.name, call.args);
  const sys = new Syscalls(k, p, { batch, callId: call.id, turn, replay });
  if (hosted !== undefined) {
    if (k.toolHost === null) {
      return {
        ok: false,
        error: {
          code: "EINVAL",
          message: `Cannot call tool '${call.name}': this kernel has no sandbox to run it in`,
        },
      };
    }
    const what = { tool: hosted, source: jit?.source ?? null };
    return await _runHosted(k, p, sys, what, call, turn, batch, replay.size === 0);
  }
  const parsed = tool!.input.safeParse(call.args ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      `${i.path.join(".") || "(arguments)"}: ${i.message}`
    );
    return {
      ok: false,
      error: { code: "EINVAL", message: `Cannot call tool '${call.name}': ${issues.join("; ")}` },
    };
  }
  // A primitive tool is one syscall: its call is known from the model
  // response in the journal, and its syscall entry records what ran.
  try {
    const value = await tool!.run(sys, parsed.data as never);
    return { ok: true, value: value ?? null };
  } catch (error) {
    if (hasCode(error, "EWAITING")) return WAITING;
    return { ok: false, error: toErrorData(error) };
  }
}

/**
 * Runs a sandboxed tool: its syscalls come back through the syscall table to
 * the primitives; a syscall that must wait ends the run, and the call runs
 * again from its start when the process wakes.
 */
async function _runHosted(
  k: Kernel,
  p: ProcessRecord,
  sys: Syscalls,
  what: { tool: HostedTool; source: string | null },
  call: ToolCall,
  turn: number,
  batch: Batch,
  first: boolean,
): Promise<ToolResult | typeof WAITING> {
  const hosted = what.tool;
  if (first) {
    k.records.journal(batch, p.pid, "tool.start", {
      name: call.name,
      args: call.args ?? null,
      hash: hosted.hash,
    }, { turn, callId: call.id });
  }
  let waiting = false;
  const result = await k.toolHost!.run({
    pid: p.pid,
    tool: what.source === null
      ? { path: hosted.path, hash: hosted.hash }
      : { source: what.source, hash: hosted.hash },
    args: call.args ?? {},
    deadlineMs: k.toolDeadlineMs,
    grants: k.grants.of(p.pid),
    audit: (record) =>
      k.records.audit(batch, {
        actor: "kernel:sandbox",
        action: record.action,
        pid: p.pid,
        callId: call.id,
        step: p.usage.steps,
        resource: record.resource ?? null,
        decision: record.decision ?? null,
        detail: record.detail,
      }),
    log: (line) =>
      k.records.journal(batch, p.pid, "tool.log", { line: line.slice(0, 4000) }, {
        turn,
        callId: call.id,
      }),
    syscall: async (name, args) => {
      try {
        return await dispatchSyscall(sys, name, args);
      } catch (error) {
        if (hasCode(error, "EWAITING")) waiting = true;
        throw error;
      }
    },
  });
  if (waiting) return WAITING;
  if (result.hash !== null && result.hash !== hosted.hash) {
    k.records.journal(batch, p.pid, "tool.start", {
      name: call.name,
      hash: result.hash,
      note: "the file changed; this content ran",
    }, { turn, callId: call.id });
  }
  return result.ok ? { ok: true, value: result.value ?? null } : { ok: false, error: result.error };
}

/**
 * Rebuilds a process's context (and the pending call's replay) from its
 * journal as it stands after any checkpoint restores.
 */
async function _materialize(
  k: Kernel,
  p: ProcessRecord,
  live: { messages: ContextMessage[] | null; replay: Map<number, JournalEntry> },
): Promise<void> {
  const messages: ContextMessage[] = [{ role: "user", text: bodyText(p.goal) }];
  const replay = live.replay;
  replay.clear();
  const pending = p.cursor !== null && p.cursor.next < p.cursor.calls.length
    ? p.cursor.calls[p.cursor.next]!.id
    : null;
  if (p.cursor !== null) {
    for (const e of effectiveJournal(await k.store.readJournal(p.pid))) {
      if (e.kind === "lifecycle" && typeof e.data["exec"] === "string") {
        messages.length = 1;
        replay.clear();
      } else if (e.kind === "model.response") {
        // Replay entries belong to the pending call of the latest turn only.
        replay.clear();
        messages.push({
          role: "assistant",
          text: (e.data["text"] as string | null) ?? null,
          calls: e.data["calls"] as ToolCall[],
        });
      } else if (e.kind === "tool.end" && e.callId !== null) {
        messages.push({
          role: "tool",
          callId: e.callId,
          name: e.data["name"] as string,
          result: e.data["result"] as ToolResult,
        });
      } else if (
        pending !== null && e.callId === pending && e.sys !== null &&
        (e.kind === "syscall" || e.kind === "syscall.intent")
      ) {
        const prev = replay.get(e.sys);
        if (prev === undefined || prev.kind !== "syscall") replay.set(e.sys, e);
      }
    }
  }
  live.messages = messages;
}
