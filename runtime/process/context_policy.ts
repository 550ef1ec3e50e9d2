/**
 * The context policy: keeps a process's prompt under a token budget without
 * losing anything. The context grows by appending; when it no longer fits,
 * the oldest large tool results are replaced by short stubs that name an
 * object (`ctx-<call id>`) holding the full result, which the agent can read
 * back with `read_object`. The first message (the goal), every assistant
 * message and the newest `keepRecent` messages are kept whole, and a call
 * keeps its result message (a stub), so no provider sees an orphan call.
 *
 * The policy is a pure function of the messages and the options, so a
 * context rebuilt from the journal is elided exactly as the live one was.
 * Elision moves in steps of `step` messages: between two steps the prompt
 * only grows by appending, and the server's prompt cache keeps hitting.
 *
 * @module
 */
import type { ContextMessage, ToolSpec } from "../models/model_provider.ts";
import { stableJson } from "../models/model_wire.ts";
import type { ToolResult } from "../types.ts";

/**
 * A rough token count of a text: one token per 4 UTF-16 code units, rounded
 * up (close for English and code; an overestimate errs toward staying under
 * budget).
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A message's estimated tokens, with a small per-message overhead. */
export function messageTokens(m: ContextMessage): number {
  const overhead = 4;
  switch (m.role) {
    case "user":
      return overhead + estimateTokens(m.text);
    case "assistant":
      return overhead + estimateTokens(m.text ?? "") +
        m.calls.reduce((n, c) => n + 4 + estimateTokens(c.name + stableJson(c.args ?? {})), 0);
    case "tool":
      return overhead + estimateTokens(stableJson(m.result));
  }
}

/** Options of {@linkcode fitContext}. */
export interface ContextPolicyOptions {
  /** The budget for the whole prompt (system prompt and tool schemas included). */
  budget: number;
  /** The system prompt, counted against the budget. Default: "". */
  system?: string;
  /** The tool schemas, counted against the budget. Default: none. */
  tools?: readonly ToolSpec[];
  /** The newest messages that are never elided. Default: 6. */
  keepRecent?: number;
  /** Elision advances by this many messages at a time. Default: 8. */
  step?: number;
}

/** A tool result taken out of the prompt, to be kept as an object. */
export interface ElidedResult {
  /** The object name the stub points at: `ctx-<call id>` with dots as dashes. */
  name: string;
  callId: string;
  tool: string;
  result: ToolResult;
  tokens: number;
}

/** The outcome of {@linkcode fitContext}. */
export interface FittedContext {
  /** The messages to send (the input itself when nothing was elided). */
  messages: ContextMessage[];
  /** Results replaced by stubs, oldest first; the kernel stores each as an object. */
  elided: ElidedResult[];
  /** The estimated prompt tokens of `messages`. */
  tokens: number;
  /** False when even the most elision allowed leaves the prompt over budget. */
  fits: boolean;
}

/** The object name that holds an elided result of `callId`. */
export function elidedObjectName(callId: string): string {
  return `ctx-${callId.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
}

/** The stub that stands in a context for an elided result. */
export function elisionStub(callId: string, tokens: number): ToolResult {
  return {
    ok: true,
    value: {
      elided: true,
      object: elidedObjectName(callId),
      tokens,
      note: "this result was moved out of the context; read_object its object to see it",
    },
  };
}

/**
 * Fits `messages` under `options.budget` (see the module doc). Returns the
 * input unchanged when it fits already.
 */
export function fitContext(
  messages: readonly ContextMessage[],
  options: ContextPolicyOptions,
): FittedContext {
  const keepRecent = options.keepRecent ?? 6;
  const step = options.step ?? 8;
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`step must be a positive integer, not ${step}`);
  }
  const fixed = estimateTokens(options.system ?? "") +
    (options.tools ?? []).reduce(
      (n, t) => n + estimateTokens(t.name + t.description + stableJson(t.inputSchema)),
      0,
    );
  const sizes = messages.map(messageTokens);
  const total = fixed + sizes.reduce((a, b) => a + b, 0);
  if (total <= options.budget) {
    return { messages: [...messages], elided: [], tokens: total, fits: true };
  }
  // The goal (index 0) and the newest messages are never elided.
  const limit = Math.max(1, messages.length - keepRecent);
  let saved = 0;
  let boundary = 1;
  const savings: number[] = [];
  for (let i = 0; i < messages.length; i += 1) {
    const m = messages[i]!;
    if (i === 0 || m.role !== "tool") {
      savings.push(0);
      continue;
    }
    const stub = 4 + estimateTokens(stableJson(elisionStub(m.callId, sizes[i]!)));
    savings.push(Math.max(0, sizes[i]! - stub));
  }
  // The smallest boundary, in whole steps, whose elision brings the prompt under budget.
  for (boundary = Math.min(step, limit);; boundary = Math.min(boundary + step, limit)) {
    saved = savings.slice(0, boundary).reduce((a, b) => a + b, 0);
    if (total - saved <= options.budget || boundary >= limit) break;
  }
  const out: ContextMessage[] = [];
  const elided: ElidedResult[] = [];
  for (const [i, m] of messages.entries()) {
    if (i < boundary && m.role === "tool" && savings[i]! > 0) {
      elided.push({
        name: elidedObjectName(m.callId),
        callId: m.callId,
        tool: m.name,
        result: m.result,
        tokens: sizes[i]!,
      });
      out.push({
        role: "tool",
        callId: m.callId,
        name: m.name,
        result: elisionStub(m.callId, sizes[i]!),
      });
    } else {
      out.push(m);
    }
  }
  const tokens = total - saved;
  return { messages: out, elided, tokens, fits: tokens <= options.budget };
}
