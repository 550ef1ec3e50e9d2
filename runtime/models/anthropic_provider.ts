/**
 * The Anthropic model provider, on the official `@anthropic-ai/sdk`: the
 * Messages API with `tool_use` / `tool_result` blocks, streamed by default.
 *
 * An image selects it with
 * `"model": {"provider": "anthropic", "name": "claude-sonnet-4-6", "options": {…}}`
 * (options: {@linkcode ModelOptions}; `maxTokens` defaults to 4096 since the
 * API requires it). The context is a stable prefix: the system prompt and
 * every earlier message serialize to the same bytes on every turn, and two
 * cache breakpoints (the system prompt, the newest message) let the server's
 * prompt cache reuse everything before the newest turn.
 *
 * @module
 */
import type Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  RawMessageStreamEvent,
  StopReason,
  Tool,
} from "@anthropic-ai/sdk/resources/messages";
import { libosError } from "../errors.ts";
import type { EnvReader, ModelOptions } from "./model_options.ts";
import type {
  ContextMessage,
  ModelProvider,
  ModelRequest,
  ModelResponse,
  ToolSpec,
} from "./model_provider.ts";
import type { RetryOptions } from "./model_retry.ts";
import { stableJson, WIRE_NAME_MAX, wireNamed, wireSchema } from "./model_wire.ts";
import { parseToolArgs } from "../process/tool_call_args.ts";
import { callVendor, type VendorConfig, vendorConfig } from "./vendor_call.ts";

/** The vendor's API. */
export const ANTHROPIC_VENDOR_URL = "https://api.anthropic.com";

/** The output limit of a turn when the image sets none. */
const _DEFAULT_MAX_TOKENS = 4096;

/** Options of {@linkcode AnthropicProvider}; every field has a default. */
export interface AnthropicProviderOptions {
  /** The provider name images use. Default: `"anthropic"`. */
  name?: string;
  /** Where keys and `ANTHROPIC_BASE_URL` are read, at each call. Default: `Deno.env`. */
  env?: EnvReader;
  /** The provider's own key variable. Default: `ANTHROPIC_API_KEY`. */
  keyEnv?: string;
  /** The variable that moves the provider's own base URL. Default: `ANTHROPIC_BASE_URL`. */
  baseURLEnv?: string;
  /** Backoff between retries (the image's `maxRetries` wins over `retry.maxRetries`). */
  retry?: RetryOptions;
}

/** A provider for Anthropic's Messages API. */
export class AnthropicProvider implements ModelProvider {
  /** The provider name images use. */
  readonly name: string;
  readonly #config: VendorConfig<typeof Anthropic>;

  constructor(options: AnthropicProviderOptions = {}) {
    this.#config = vendorConfig(options, {
      name: "anthropic",
      keyEnv: "ANTHROPIC_API_KEY",
      baseURLEnv: "ANTHROPIC_BASE_URL",
      vendorBaseURL: ANTHROPIC_VENDOR_URL,
      loadSdk: async () => (await import("@anthropic-ai/sdk")).default,
    });
    this.name = this.#config.name;
  }

  /** Performs one model turn; failures are {@linkcode LibosError}s with no key in them. */
  complete(request: ModelRequest): Promise<ModelResponse> {
    return callVendor(this.#config, request, (
      { target, model, options, endpoint, timeoutMs },
      sdk,
    ) => {
      if (options.api !== undefined) {
        throw libosError(
          "EINVAL",
          `Cannot use model '${target}': option 'api' is for OpenAI-compatible providers`,
          { field: "model.options.api" },
        );
      }
      const client = new sdk({
        // Always a string: with no key the SDK would go looking in config files.
        apiKey: endpoint.apiKey ?? "no-key",
        authToken: null,
        baseURL: endpoint.baseURL,
        maxRetries: 0,
        timeout: timeoutMs,
        logLevel: "off",
      });
      const call: _Call = { client, model, options, request };
      return (signal: AbortSignal) => _turn(call, signal);
    });
  }
}

interface _Call {
  client: Anthropic;
  model: string;
  options: ModelOptions;
  request: ModelRequest;
}

async function _turn(call: _Call, signal: AbortSignal): Promise<ModelResponse> {
  const { client, options, request } = call;
  const wire = wireNamed(request, WIRE_NAME_MAX.anthropic);
  const params: MessageCreateParamsNonStreaming = {
    model: call.model,
    max_tokens: options.maxTokens ?? _DEFAULT_MAX_TOKENS,
    messages: anthropicMessages(wire.messages),
  };
  if (request.system !== "") {
    params.system = [{ type: "text", text: request.system, cache_control: { type: "ephemeral" } }];
  }
  if (wire.tools.length > 0) params.tools = wire.tools.map(_tool);
  if (options.temperature !== undefined) {
    // The SDK's types no longer list it (newer models fix it); a server that takes it still may.
    Object.assign(params, { temperature: Math.min(1, options.temperature) });
  }
  let r: ModelResponse;
  if (options.stream === false) {
    r = _fromMessage(await client.messages.create(params, { signal }));
  } else {
    const stream = await client.messages.create({ ...params, stream: true }, { signal });
    const acc = new _EventAccumulator(request.onDelta);
    for await (const event of stream) acc.add(event);
    // The SDK ends an aborted stream quietly: a cut-off reply must not pass for a whole one.
    signal.throwIfAborted();
    r = acc.response();
  }
  // The vendor saw wire names; the kernel dispatches its own.
  return { ...r, calls: wire.names.fromWireCalls(r.calls) };
}

/**
 * The Messages API messages of a context. Tool results become `tool_result`
 * blocks of a user message, and consecutive messages of one role merge (the
 * API wants the roles to alternate). Call ids are made safe for the API's id
 * pattern (`c3.1` → `c3_1`). The newest message's last block carries a cache
 * breakpoint. Pure and deterministic, so a longer context extends the previous
 * one's bytes (apart from where that breakpoint sits).
 */
export function anthropicMessages(messages: readonly ContextMessage[]): MessageParam[] {
  const out: { role: "user" | "assistant"; content: ContentBlockParam[] }[] = [];
  const push = (role: "user" | "assistant", blocks: ContentBlockParam[]) => {
    const last = out[out.length - 1];
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case "user":
        push("user", [{ type: "text", text: m.text === "" ? "(empty)" : m.text }]);
        break;
      case "assistant": {
        const blocks: ContentBlockParam[] = [];
        if (m.text !== null && m.text !== "") blocks.push({ type: "text", text: m.text });
        for (const c of m.calls) {
          blocks.push({
            type: "tool_use",
            id: toolUseId(c.id),
            name: c.name,
            input: _inputObject(c.args),
          });
        }
        // The API refuses an empty assistant message; this stands for a turn that said nothing.
        if (blocks.length === 0) blocks.push({ type: "text", text: "(no reply)" });
        push("assistant", blocks);
        break;
      }
      case "tool":
        push("user", [{
          type: "tool_result",
          tool_use_id: toolUseId(m.callId),
          content: stableJson(m.result),
          is_error: !m.result.ok,
        }]);
        break;
    }
  }
  const last = out[out.length - 1]?.content.at(-1);
  if (last !== undefined && (last.type === "text" || last.type === "tool_result")) {
    last.cache_control = { type: "ephemeral" };
  }
  return out;
}

/** A kernel call id in the form the API's `tool_use.id` pattern takes (`^[a-zA-Z0-9_-]+$`). */
export function toolUseId(callId: string): string {
  return callId.replace(/[^a-zA-Z0-9_-]/g, "_");
}

function _inputObject(args: unknown): Record<string, unknown> {
  if (args !== null && typeof args === "object" && !Array.isArray(args)) {
    // Re-parsed from its canonical text, so its keys are in one order on every turn.
    return JSON.parse(stableJson(args)) as Record<string, unknown>;
  }
  return {};
}

function _tool(t: ToolSpec): Tool {
  return {
    name: t.name,
    description: t.description,
    input_schema: { type: "object", ...wireSchema(t.inputSchema) },
  };
}

function _fromMessage(m: Message): ModelResponse {
  let text = "";
  const calls: { name: string; args: unknown }[] = [];
  for (const block of m.content) {
    if (block.type === "text") text += block.text;
    else if (block.type === "tool_use") {
      calls.push({ name: block.name, args: _inputObject(block.input) });
    }
  }
  return _response({
    text,
    calls,
    stop: m.stop_reason,
    input: _inputTokens(m.usage),
    output: m.usage.output_tokens,
  });
}

/** Gathers streamed events into one response, passing text deltas on in order. */
class _EventAccumulator {
  #blocks = new Map<number, { kind: "text" | "tool" | "other"; name: string; text: string }>();
  #stop: StopReason | null = null;
  #input = 0;
  #output = 0;
  #onDelta: ((text: string) => void) | undefined;

  constructor(onDelta: ((text: string) => void) | undefined) {
    this.#onDelta = onDelta;
  }

  add(event: RawMessageStreamEvent): void {
    switch (event.type) {
      case "message_start":
        this.#input = _inputTokens(event.message.usage);
        this.#output = event.message.usage.output_tokens ?? 0;
        break;
      case "content_block_start": {
        const b = event.content_block;
        if (b.type === "text") {
          this.#blocks.set(event.index, { kind: "text", name: "", text: b.text ?? "" });
          if (b.text) this.#onDelta?.(b.text);
        } else if (b.type === "tool_use") {
          this.#blocks.set(event.index, { kind: "tool", name: b.name, text: "" });
        } else {
          this.#blocks.set(event.index, { kind: "other", name: "", text: "" });
        }
        break;
      }
      case "content_block_delta": {
        const block = this.#blocks.get(event.index);
        if (block === undefined) break;
        if (event.delta.type === "text_delta" && block.kind === "text") {
          block.text += event.delta.text;
          if (event.delta.text !== "") this.#onDelta?.(event.delta.text);
        } else if (event.delta.type === "input_json_delta" && block.kind === "tool") {
          block.text += event.delta.partial_json;
        }
        break;
      }
      case "message_delta":
        if (event.delta.stop_reason) this.#stop = event.delta.stop_reason;
        this.#output = event.usage.output_tokens ?? this.#output;
        if (typeof event.usage.input_tokens === "number") {
          this.#input = _inputTokens({
            input_tokens: event.usage.input_tokens,
            cache_creation_input_tokens: event.usage.cache_creation_input_tokens,
            cache_read_input_tokens: event.usage.cache_read_input_tokens,
          });
        }
        break;
      case "content_block_stop":
      case "message_stop":
        break;
    }
  }

  response(): ModelResponse {
    let text = "";
    const calls: { name: string; args: unknown }[] = [];
    for (const [, b] of [...this.#blocks.entries()].sort((x, y) => x[0] - y[0])) {
      if (b.kind === "text") text += b.text;
      else if (b.kind === "tool") calls.push({ name: b.name, args: parseToolArgs(b.text) });
    }
    return _response({
      text,
      calls,
      stop: this.#stop,
      input: this.#input,
      output: this.#output,
    });
  }
}

function _inputTokens(u: {
  input_tokens: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}): number {
  return (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) +
    (u.cache_read_input_tokens ?? 0);
}

function _response(r: {
  text: string;
  calls: { name: string; args: unknown }[];
  stop: StopReason | null;
  input: number;
  output: number;
}): ModelResponse {
  let stop: ModelResponse["stop"];
  if (r.stop === "refusal") stop = "refusal";
  else if (r.stop === "max_tokens" || r.stop === "model_context_window_exceeded") {
    stop = "max_tokens";
  } else if (r.calls.length > 0) stop = "tool_calls";
  else stop = "end";
  return {
    text: r.text === "" ? null : r.text,
    calls: stop === "refusal" ? [] : r.calls,
    usage: { inputTokens: r.input, outputTokens: r.output },
    stop,
  };
}
