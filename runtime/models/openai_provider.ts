/**
 * The OpenAI-compatible model provider, on the official `openai` SDK. One
 * base URL serves OpenAI, vLLM, Ollama, llama.cpp's server, LM Studio,
 * DeepSeek and DashScope: chat completions with tools by default, the
 * Responses API with `"api": "responses"` where the endpoint offers it.
 *
 * An image selects it with
 * `"model": {"provider": "openai", "name": "gpt-4o-mini", "options": {…}}`
 * (options: {@linkcode ModelOptions}). The context is sent as a stable prefix:
 * the system prompt first, then every earlier message serialized the same way
 * on every turn (canonical JSON for arguments and results), so the server's
 * prompt cache keeps hitting as the conversation grows by appending.
 *
 * @module
 */
import type OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import type {
  FunctionTool,
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseInputItem,
} from "openai/resources/responses/responses";
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
import { parseToolArgs } from "../process/tool_call_args.ts";
import { callVendor, type VendorConfig, vendorConfig } from "./vendor_call.ts";
import { stableJson, WIRE_NAME_MAX, wireNamed, WireNames, wireSchema } from "./model_wire.ts";

/** The vendor's API. */
export const OPENAI_VENDOR_URL = "https://api.openai.com/v1";

/** Options of {@linkcode OpenAIProvider}; every field has a default. */
export interface OpenAIProviderOptions {
  /** The provider name images use. Default: `"openai"`. */
  name?: string;
  /** Where keys and `OPENAI_BASE_URL` are read, at each call. Default: `Deno.env`. */
  env?: EnvReader;
  /** The provider's own key variable. Default: `OPENAI_API_KEY`. */
  keyEnv?: string;
  /** The variable that moves the provider's own base URL. Default: `OPENAI_BASE_URL`. */
  baseURLEnv?: string;
  /** Backoff between retries (the image's `maxRetries` wins over `retry.maxRetries`). */
  retry?: RetryOptions;
}

/** A provider for OpenAI and every server that speaks its API. */
export class OpenAIProvider implements ModelProvider {
  /** The provider name images use. */
  readonly name: string;
  readonly #config: VendorConfig<typeof OpenAI>;

  constructor(options: OpenAIProviderOptions = {}) {
    this.#config = vendorConfig(options, {
      name: "openai",
      keyEnv: "OPENAI_API_KEY",
      baseURLEnv: "OPENAI_BASE_URL",
      vendorBaseURL: OPENAI_VENDOR_URL,
      loadSdk: async () => (await import("openai")).default,
    });
    this.name = this.#config.name;
  }

  /** Performs one model turn; failures are {@linkcode LibosError}s with no key in them. */
  complete(request: ModelRequest): Promise<ModelResponse> {
    return callVendor(this.#config, request, ({ model, options, endpoint, timeoutMs }, sdk) => {
      const client = new sdk({
        apiKey: endpoint.apiKey ?? "no-key",
        baseURL: endpoint.baseURL,
        maxRetries: 0,
        timeout: timeoutMs,
        logLevel: "off",
        // The SDK would otherwise read OPENAI_ORG_ID and friends from the host.
        organization: null,
        project: null,
      });
      const call: _Call = { client, model, options, request, vendor: endpoint.vendor };
      const attempt = options.api === "responses" ? _responsesTurn : _chatTurn;
      return (signal: AbortSignal) => attempt(call, signal);
    });
  }
}

interface _Call {
  client: OpenAI;
  model: string;
  options: ModelOptions;
  request: ModelRequest;
  vendor: boolean;
}

// ---------------------------------------------------------------- chat completions

async function _chatTurn(call: _Call, signal: AbortSignal): Promise<ModelResponse> {
  const { client, options, request } = call;
  const wire = wireNamed(request, WIRE_NAME_MAX.openai);
  const params: ChatCompletionCreateParamsNonStreaming = {
    model: call.model,
    messages: chatMessages(request.system, wire.messages),
  };
  if (wire.tools.length > 0) params.tools = wire.tools.map(_chatTool);
  if (options.temperature !== undefined) params.temperature = options.temperature;
  if (options.maxTokens !== undefined) {
    // OpenAI's newer models refuse `max_tokens`; most other servers know only it.
    if (call.vendor) params.max_completion_tokens = options.maxTokens;
    else params.max_tokens = options.maxTokens;
  }
  if (options.stream === false) {
    const completion = await client.chat.completions.create(params, { signal });
    return _named(_fromCompletion(completion), wire.names);
  }
  const stream = await client.chat.completions.create(
    { ...params, stream: true, stream_options: { include_usage: true } },
    { signal },
  );
  const acc = new _ChunkAccumulator(request.onDelta);
  for await (const chunk of stream) acc.add(chunk);
  // The SDK ends an aborted stream quietly: a cut-off reply must not pass for a whole one.
  signal.throwIfAborted();
  return _named(acc.response(), wire.names);
}

/** A response whose calls name kernel tools (the vendor saw wire names). */
function _named(r: ModelResponse, names: WireNames): ModelResponse {
  return { ...r, calls: names.fromWireCalls(r.calls) };
}

/**
 * The chat-completions messages of a context: the system prompt, then each
 * message in order. Pure and deterministic, so a longer context extends the
 * previous one's bytes.
 */
export function chatMessages(
  system: string,
  messages: readonly ContextMessage[],
): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system !== "") out.push({ role: "system", content: system });
  for (const m of messages) {
    switch (m.role) {
      case "user":
        out.push({ role: "user", content: m.text });
        break;
      case "assistant":
        if (m.calls.length === 0) {
          out.push({ role: "assistant", content: m.text ?? "" });
        } else {
          out.push({
            role: "assistant",
            content: m.text,
            tool_calls: m.calls.map((c) => ({
              id: c.id,
              type: "function" as const,
              function: { name: c.name, arguments: stableJson(c.args ?? {}) },
            })),
          });
        }
        break;
      case "tool":
        out.push({ role: "tool", tool_call_id: m.callId, content: stableJson(m.result) });
        break;
    }
  }
  return out;
}

function _chatTool(t: ToolSpec): ChatCompletionTool {
  return {
    type: "function",
    function: { name: t.name, description: t.description, parameters: wireSchema(t.inputSchema) },
  };
}

function _fromCompletion(c: ChatCompletion): ModelResponse {
  const choice = c.choices[0];
  const msg = choice?.message;
  const calls = (msg?.tool_calls ?? []).flatMap((tc) =>
    tc.type === "function"
      ? [{ name: tc.function.name, args: parseToolArgs(tc.function.arguments) }]
      : []
  );
  return _chatResponse({
    text: msg?.content ?? null,
    refusal: msg?.refusal ?? null,
    calls,
    finish: choice?.finish_reason ?? null,
    usage: c.usage,
  });
}

/** Gathers streamed chunks into one response, passing text deltas on in order. */
class _ChunkAccumulator {
  #text = "";
  #refusal = "";
  #calls = new Map<number, { name: string; args: string }>();
  #finish: string | null = null;
  #usage: ChatCompletion["usage"];
  #onDelta: ((text: string) => void) | undefined;

  constructor(onDelta: ((text: string) => void) | undefined) {
    this.#onDelta = onDelta;
  }

  add(chunk: ChatCompletionChunk): void {
    if (chunk.usage) this.#usage = chunk.usage;
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (choice === undefined) return;
    const d = choice.delta ?? {};
    if (typeof d.content === "string" && d.content !== "") {
      this.#text += d.content;
      this.#onDelta?.(d.content);
    }
    if (typeof d.refusal === "string") this.#refusal += d.refusal;
    for (const [i, tc] of (d.tool_calls ?? []).entries()) {
      const index = tc.index ?? i;
      const entry = this.#calls.get(index) ?? { name: "", args: "" };
      if (tc.function?.name) entry.name += tc.function.name;
      if (tc.function?.arguments) entry.args += tc.function.arguments;
      this.#calls.set(index, entry);
    }
    if (choice.finish_reason) this.#finish = choice.finish_reason;
  }

  response(): ModelResponse {
    const calls = [...this.#calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => ({
      name: c.name,
      args: parseToolArgs(c.args),
    }));
    return _chatResponse({
      text: this.#text === "" ? null : this.#text,
      refusal: this.#refusal === "" ? null : this.#refusal,
      calls,
      finish: this.#finish,
      usage: this.#usage,
    });
  }
}

function _chatResponse(r: {
  text: string | null;
  refusal: string | null;
  calls: { name: string; args: unknown }[];
  finish: string | null;
  usage: ChatCompletion["usage"];
}): ModelResponse {
  let stop: ModelResponse["stop"];
  if (r.refusal !== null || r.finish === "content_filter") stop = "refusal";
  else if (r.finish === "length") stop = "max_tokens";
  else if (r.calls.length > 0) stop = "tool_calls";
  else stop = "end";
  return {
    // A refusal is the model's answer: it is what the process ends with.
    text: r.refusal ?? r.text,
    calls: stop === "refusal" ? [] : r.calls,
    usage: {
      inputTokens: r.usage?.prompt_tokens ?? 0,
      outputTokens: r.usage?.completion_tokens ?? 0,
    },
    stop,
  };
}

// ---------------------------------------------------------------- Responses API

async function _responsesTurn(call: _Call, signal: AbortSignal): Promise<ModelResponse> {
  const { client, options, request } = call;
  const wire = wireNamed(request, WIRE_NAME_MAX.openai);
  const params: ResponseCreateParamsNonStreaming = {
    model: call.model,
    input: responsesInput(wire.messages),
  };
  if (request.system !== "") params.instructions = request.system;
  if (wire.tools.length > 0) params.tools = wire.tools.map(_responsesTool);
  if (options.temperature !== undefined) params.temperature = options.temperature;
  if (options.maxTokens !== undefined) params.max_output_tokens = options.maxTokens;
  if (options.stream === false) {
    return _named(_fromResponse(await client.responses.create(params, { signal })), wire.names);
  }
  const stream = await client.responses.create({ ...params, stream: true }, { signal });
  let final: Response | null = null;
  for await (const event of stream) {
    switch (event.type) {
      case "response.output_text.delta":
        if (event.delta !== "") request.onDelta?.(event.delta);
        break;
      case "response.completed":
      case "response.incomplete":
      case "response.failed":
        final = event.response;
        break;
      case "error":
        throw libosError("EUNKNOWN", `the stream reported an error: ${event.message}`);
    }
  }
  signal.throwIfAborted();
  if (final === null) {
    throw libosError("EUNKNOWN", "the stream ended without a final response");
  }
  return _named(_fromResponse(final), wire.names);
}

/** The Responses API input of a context, in order (the system prompt goes in `instructions`). */
export function responsesInput(messages: readonly ContextMessage[]): ResponseInputItem[] {
  const out: ResponseInputItem[] = [];
  for (const m of messages) {
    switch (m.role) {
      case "user":
        out.push({ role: "user", content: m.text });
        break;
      case "assistant":
        if (m.text !== null && m.text !== "") out.push({ role: "assistant", content: m.text });
        for (const c of m.calls) {
          out.push({
            type: "function_call",
            call_id: c.id,
            name: c.name,
            arguments: stableJson(c.args ?? {}),
          });
        }
        break;
      case "tool":
        out.push({ type: "function_call_output", call_id: m.callId, output: stableJson(m.result) });
        break;
    }
  }
  return out;
}

function _responsesTool(t: ToolSpec): FunctionTool {
  return {
    type: "function",
    name: t.name,
    description: t.description,
    parameters: wireSchema(t.inputSchema),
    strict: false,
  };
}

function _fromResponse(r: Response): ModelResponse {
  if (r.status === "failed") {
    throw libosError(
      "EUNKNOWN",
      `the response failed: ${r.error?.message ?? "no reason given"}`,
    );
  }
  let text = "";
  let refusal = "";
  const calls: { name: string; args: unknown }[] = [];
  for (const item of r.output ?? []) {
    if (item.type === "message") {
      for (const part of item.content) {
        if (part.type === "output_text") text += part.text;
        else if (part.type === "refusal") refusal += part.refusal;
      }
    } else if (item.type === "function_call") {
      calls.push({ name: item.name, args: parseToolArgs(item.arguments) });
    }
  }
  const why = r.incomplete_details?.reason;
  let stop: ModelResponse["stop"];
  if (refusal !== "" || why === "content_filter") stop = "refusal";
  else if (why === "max_output_tokens") stop = "max_tokens";
  else if (calls.length > 0) stop = "tool_calls";
  else stop = "end";
  return {
    text: refusal !== "" ? refusal : text === "" ? null : text,
    calls: stop === "refusal" ? [] : calls,
    usage: {
      inputTokens: r.usage?.input_tokens ?? 0,
      outputTokens: r.usage?.output_tokens ?? 0,
    },
    stop,
  };
}
