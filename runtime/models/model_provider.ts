/**
 * The model seam: a `ModelProvider` turns a process's context into one model
 * turn. The kernel calls it only through the `model.complete` primitive, which
 * checks the `model:` capability, journals the response and charges usage.
 *
 * @module
 */
import type { ModelSpec } from "../images/schemas.ts";
import type { Pid, ToolCall, ToolResult } from "../types.ts";

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  inputSchema: Record<string, unknown>;
}

/** One message of a process's context. */
export type ContextMessage =
  | { role: "user"; text: string }
  | { role: "assistant"; text: string | null; calls: ToolCall[] }
  | { role: "tool"; callId: string; name: string; result: ToolResult };

/** What a provider is asked. */
export interface ModelRequest {
  pid: Pid;
  model: ModelSpec;
  /** Whether the process was made by fork (a scripted model follows its `forked` script). */
  forked: boolean;
  system: string;
  messages: readonly ContextMessage[];
  tools: readonly ToolSpec[];
  /** The turn number, from 0. */
  turn: number;
  /** Aborted when the process is paused, cancelled or killed. */
  signal: AbortSignal;
  /** Receives streamed text as it arrives (sent to the event stream). */
  onDelta?: (text: string) => void;
}

/** Token counts of one model turn. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
}

/** One model turn. */
export interface ModelResponse {
  text: string | null;
  calls: { name: string; args: unknown }[];
  usage: ModelUsage;
  /**
   * Why the turn ended: `tool_calls` (calls to dispatch), `end` (a final
   * answer), `exhausted` (a scripted model ran out of steps).
   */
  stop: "tool_calls" | "end" | "exhausted" | "max_tokens" | "refusal";
}

/** A model provider (scripted, OpenAI-compatible, Anthropic, …). */
export interface ModelProvider {
  /** The provider name images use in `model.provider`. */
  readonly name: string;
  /**
   * True when calling again with the same request gives the same response at
   * no cost (a script). The kernel then lets the response ride on the turn's
   * next commit instead of committing it alone before the first tool runs —
   * unless a sandboxed tool is among the calls. Default false: every other
   * response is durable before its first tool runs.
   */
  readonly replayable?: boolean;
  /** Performs one model turn. */
  complete(request: ModelRequest): Promise<ModelResponse>;
}
