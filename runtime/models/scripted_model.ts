/**
 * The scripted model provider: each step of the image's script is one model
 * turn. It touches nothing outside the kernel, so it needs no `model:` grant.
 *
 * Arguments may refer to an earlier turn's tool result with
 * `{"$ref": "steps[N].result.<path>"}` (the first call of turn N) or
 * `{"$ref": "steps[N].calls[K].result.<path>"}`; `<path>` walks the tool
 * result `{ok, value | error}`, e.g. `steps[0].result.value.pid`.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type {
  ContextMessage,
  ModelProvider,
  ModelRequest,
  ModelResponse,
} from "./model_provider.ts";
import type { ScriptedStep } from "../images/schemas.ts";
import type { ToolResult } from "../types.ts";

const REF = /^steps\[(\d+)\](?:\.calls\[(\d+)\])?\.result(?:\.(.+))?$/;

/** The scripted provider (`"provider": "scripted"`). */
export class ScriptedModel implements ModelProvider {
  readonly name = "scripted";
  /** A script answers the same turn the same way, for free. */
  readonly replayable = true;

  complete(request: ModelRequest): Promise<ModelResponse> {
    try {
      return Promise.resolve(this.#turn(request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #turn(request: ModelRequest): ModelResponse {
    const spec = request.model;
    if (spec.provider !== "scripted" || !("steps" in spec)) {
      throw libosError("EINVAL", `Cannot run model '${spec.provider}': not a scripted model`);
    }
    const script = request.forked && spec.forked !== undefined ? spec.forked : spec.steps;
    const step: ScriptedStep | undefined = script[request.turn];
    const usage = { inputTokens: 0, outputTokens: 0 };
    if (step === undefined) {
      return {
        text: `script ran out after ${script.length} steps`,
        calls: [],
        usage,
        stop: "exhausted",
      };
    }
    const raw = "tool" in step ? [step] : step.calls ?? [];
    // Earlier results are gathered only for a step that refers to them.
    let results: ToolResult[][] | null = null;
    const calls = raw.map((c) => {
      if (!_hasRef(c.args)) return { name: c.tool, args: c.args };
      results ??= _resultsByTurn(request.messages);
      return { name: c.tool, args: _resolveRefs(c.args, results, request.turn) };
    });
    const text = "text" in step ? step.text ?? null : null;
    // A text-only step is a turn with nothing to dispatch: the script goes on.
    return { text, calls, usage, stop: "tool_calls" };
  }
}

/** Tool results of each earlier turn, in call order. */
function _resultsByTurn(messages: readonly ContextMessage[]): ToolResult[][] {
  const turns: ToolResult[][] = [];
  const byCall = new Map<string, ToolResult>();
  for (const m of messages) if (m.role === "tool") byCall.set(m.callId, m.result);
  for (const m of messages) {
    if (m.role !== "assistant") continue;
    turns.push(m.calls.map((c) => byCall.get(c.id) ?? { ok: true, value: null }));
  }
  return turns;
}

function _hasRef(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(_hasRef);
  if (value === null || typeof value !== "object") return false;
  if ("$ref" in value) return true;
  return Object.values(value).some(_hasRef);
}

function _resolveRefs(value: unknown, turns: ToolResult[][], turn: number): unknown {
  if (Array.isArray(value)) return value.map((v) => _resolveRefs(v, turns, turn));
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  const ref = record["$ref"];
  if (typeof ref === "string" && Object.keys(record).length === 1) {
    const m = REF.exec(ref);
    if (m === null) {
      throw libosError(
        "EINVAL",
        `Cannot resolve '$ref' '${ref}' in scripted turn ${turn}: expected steps[N].result.<path>`,
      );
    }
    const result = turns[Number(m[1])]?.[Number(m[2] ?? 0)];
    if (result === undefined) {
      throw libosError(
        "EINVAL",
        `Cannot resolve '$ref' '${ref}' in scripted turn ${turn}: that call has no result yet`,
      );
    }
    let cursor: unknown = result;
    for (const key of (m[3] ?? "").split(".").filter((k) => k !== "")) {
      cursor = cursor !== null && typeof cursor === "object"
        ? (cursor as Record<string, unknown>)[key]
        : undefined;
    }
    return cursor;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = _resolveRefs(v, turns, turn);
  return out;
}
