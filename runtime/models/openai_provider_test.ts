import assert from "node:assert/strict";
import type { ContextMessage, ModelRequest } from "./model_provider.ts";
import { chatMessages, OpenAIProvider, responsesInput } from "./openai_provider.ts";
import { MALFORMED_KEY } from "../process/tool_call_args.ts";
import { type ModelServer, startModelServer } from "../../tests/model_server.ts";
import {
  boundRequest,
  type ProviderTarget,
  recordingRetry,
  rejection,
} from "../../tests/fixtures/provider_kit.ts";
import {
  chatCompletion,
  chatStream,
  chatUsage,
  rateLimited,
  responseCall,
  responseMessage,
  responseObject,
  responseStream,
  serverError,
  unauthorized,
} from "../../tests/fixtures/openai_wire.ts";

const KEY = "sk-proj-TESTKEY0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH";

/** The provider's environment; `request` binds the key to its test server there. */
const ENV = new Map([["TEST_OPENAI_API_KEY", KEY]]);

const TARGET: ProviderTarget = {
  provider: "openai",
  name: "gpt-4o-mini",
  keyEnv: "TEST_OPENAI_API_KEY",
  baseURL: (server) => `${server.url}/v1`,
};

function provider(sleeps: number[] = []): OpenAIProvider {
  return new OpenAIProvider({ env: ENV, retry: recordingRetry(sleeps, 0.5) });
}

function request(
  server: ModelServer,
  options: Record<string, unknown> = {},
  extra: Partial<ModelRequest> = {},
): ModelRequest {
  return boundRequest(ENV, TARGET, server, options, extra);
}

Deno.test("openai: a plain reply comes back as final text with its usage, over chat completions", async () => {
  await using server = startModelServer([
    chatCompletion({ content: "It is a calculator." }, "stop", chatUsage(31, 7)),
  ]);
  const r = await provider().complete(request(server, { stream: false, maxTokens: 64 }));
  assert.deepEqual(r, {
    text: "It is a calculator.",
    calls: [],
    usage: { inputTokens: 31, outputTokens: 7 },
    stop: "end",
  });
  const sent = server.requests[0]!;
  assert.equal(sent.path, "/v1/chat/completions");
  assert.equal(sent.headers.get("authorization"), `Bearer ${KEY}`);
  assert.equal(sent.body!["model"], "gpt-4o-mini");
  // A server that is not OpenAI's gets the classic field name.
  assert.equal(sent.body!["max_tokens"], 64);
  assert.deepEqual((sent.body!["messages"] as unknown[]).slice(0, 2), [
    { role: "system", content: "You summarize repositories." },
    { role: "user", content: "Summarize the repository." },
  ]);
  const tools = sent.body!["tools"] as { type: string; function: Record<string, unknown> }[];
  assert.deepEqual(tools.map((t) => [t.type, t.function["name"]]), [
    ["function", "read_text_file"],
    ["function", "exit"],
  ]);
  assert.equal((tools[0]!.function["parameters"] as Record<string, unknown>)["$schema"], undefined);
  assert.equal((tools[0]!.function["parameters"] as Record<string, unknown>)["type"], "object");
});

Deno.test("openai: several tool calls in one turn come back in order with parsed arguments", async () => {
  await using server = startModelServer([
    chatCompletion({
      tool_calls: [
        { id: "call_a", name: "read_text_file", arguments: '{"path":"README.md"}' },
        { id: "call_b", name: "read_text_file", arguments: '{"path": "src/calc.ts"}' },
        { id: "call_c", name: "exit", arguments: "" },
      ],
    }, "tool_calls"),
  ]);
  const r = await provider().complete(request(server, { stream: false }));
  assert.equal(r.stop, "tool_calls");
  assert.equal(r.text, null);
  assert.deepEqual(r.calls, [
    { name: "read_text_file", args: { path: "README.md" } },
    { name: "read_text_file", args: { path: "src/calc.ts" } },
    { name: "exit", args: {} },
  ]);
});

Deno.test("openai: a streamed reply delivers text deltas in order and assembles streamed tool calls", async () => {
  await using server = startModelServer([
    chatStream({
      text: ["Reading ", "two ", "files."],
      calls: [
        { id: "call_a", name: "read_text_file", pieces: ['{"pa', 'th": "READ', 'ME.md"}'] },
        { id: "call_b", name: "read_text_file", pieces: ['{"path":', ' "src/calc.ts"}'] },
      ],
      finish: "tool_calls",
      usage: chatUsage(80, 20, 64),
    }),
  ]);
  const deltas: string[] = [];
  const r = await provider().complete(request(server, {}, { onDelta: (t) => deltas.push(t) }));
  assert.deepEqual(deltas, ["Reading ", "two ", "files."]);
  assert.deepEqual(r, {
    text: "Reading two files.",
    calls: [
      { name: "read_text_file", args: { path: "README.md" } },
      { name: "read_text_file", args: { path: "src/calc.ts" } },
    ],
    usage: { inputTokens: 80, outputTokens: 20 },
    stop: "tool_calls",
  });
  assert.equal(server.requests[0]!.body!["stream"], true);
  assert.deepEqual(server.requests[0]!.body!["stream_options"], { include_usage: true });
});

Deno.test("openai: a 429 is retried after a jittered backoff, then the success is returned", async () => {
  await using server = startModelServer([
    rateLimited(),
    chatStream({ text: ["ok"], finish: "stop" }),
  ]);
  const sleeps: number[] = [];
  const r = await provider(sleeps).complete(request(server, { maxRetries: 2 }));
  assert.equal(r.text, "ok");
  assert.equal(server.requests.length, 2);
  // Retry 0 of base 500 ms with equal jitter at random 0.5: 250 + 125.
  assert.deepEqual(sleeps, [375]);
});

Deno.test("openai: a 500 is retried with a doubled backoff each time until success", async () => {
  await using server = startModelServer([
    serverError(),
    serverError(),
    chatCompletion({ content: "fine" }, "stop"),
  ]);
  const sleeps: number[] = [];
  const r = await provider(sleeps).complete(request(server, { stream: false, maxRetries: 3 }));
  assert.equal(r.text, "fine");
  assert.deepEqual(sleeps, [375, 750]);
});

Deno.test("openai: retries that run out fail cleanly with the status and the attempt count", async () => {
  await using server = startModelServer([rateLimited(), rateLimited(), rateLimited()]);
  const e = await rejection(provider().complete(request(server, { maxRetries: 2 })));
  assert.equal(e.code, "ELIMIT");
  assert.match(e.message, /^Cannot call model 'openai\/gpt-4o-mini': HTTP 429 after 3 attempts: /);
  assert.equal(server.requests.length, 3);
});

Deno.test("openai: a 400 is not retried", async () => {
  await using server = startModelServer([{
    status: 400,
    json: {
      error: {
        message: "Invalid schema",
        type: "invalid_request_error",
        param: "tools",
        code: null,
      },
    },
  }]);
  const e = await rejection(provider().complete(request(server, { stream: false })));
  assert.equal(e.code, "EINVAL");
  assert.equal(server.requests.length, 1);
});

Deno.test("openai: malformed tool-call JSON becomes a marked call carrying the raw text", async () => {
  await using server = startModelServer([
    chatStream({
      calls: [
        { id: "call_a", name: "read_text_file", pieces: ['{"path": "README.md"'] },
        { id: "call_b", name: "exit", pieces: ['{"result": 1}'] },
      ],
      finish: "tool_calls",
    }),
  ]);
  const r = await provider().complete(request(server));
  assert.deepEqual(r.calls, [
    { name: "read_text_file", args: { [MALFORMED_KEY]: '{"path": "README.md"' } },
    { name: "exit", args: { result: 1 } },
  ]);
  assert.equal(r.stop, "tool_calls");
});

Deno.test("openai: a refusal ends the turn with the refusal text and no calls", async () => {
  await using server = startModelServer([
    chatStream({ refusal: ["I can't ", "help with that."], finish: "stop" }),
    chatCompletion({ refusal: "No." }, "stop"),
  ]);
  const streamed = await provider().complete(request(server));
  assert.deepEqual([streamed.stop, streamed.text, streamed.calls], [
    "refusal",
    "I can't help with that.",
    [],
  ]);
  const plain = await provider().complete(request(server, { stream: false }));
  assert.deepEqual([plain.stop, plain.text], ["refusal", "No."]);
});

Deno.test("openai: a max-tokens stop is reported as max_tokens with the partial text", async () => {
  await using server = startModelServer([
    chatStream({ text: ["The repository contains"], finish: "length" }),
  ]);
  const r = await provider().complete(request(server));
  assert.deepEqual([r.stop, r.text], ["max_tokens", "The repository contains"]);
});

Deno.test("openai: aborting the signal mid-stream cancels the call and the connection", async () => {
  await using server = startModelServer([
    chatStream({ text: ["partial"], finish: "stop", hang: true }),
  ]);
  const abort = new AbortController();
  const call = provider().complete(request(server, {}, {
    signal: abort.signal,
    onDelta: () => abort.abort(),
  }));
  const e = await rejection(call);
  assert.equal(e.code, "ECANCELED");
  assert.equal(server.requests.length, 1, "an abort is not retried");
});

Deno.test("openai: a reply slower than timeoutMs fails with ETIMEDOUT after its retries", async () => {
  await using server = startModelServer([
    chatStream({ text: ["slow"], finish: "stop", hang: true }),
    chatStream({ text: ["slow"], finish: "stop", hang: true }),
  ]);
  const e = await rejection(provider().complete(request(server, { timeoutMs: 50, maxRetries: 1 })));
  assert.equal(e.code, "ETIMEDOUT");
  assert.match(e.message, /did not answer in time after 2 attempts/);
});

Deno.test("openai: the API key never appears in a thrown error, even when the server echoes it", async () => {
  await using server = startModelServer([unauthorized(KEY)]);
  const e = await rejection(provider().complete(request(server, { stream: false })));
  assert.equal(e.code, "EPERM");
  assert.ok(!e.message.includes(KEY), e.message);
  assert.ok(!JSON.stringify(e).includes(KEY));
  assert.match(e.message, /\[redacted\]/);
  assert.equal(e.cause, undefined);
});

Deno.test("openai: the provider's own key goes only to its own base URL", async () => {
  await using server = startModelServer([
    chatCompletion({ content: "a" }, "stop"),
    chatCompletion({ content: "b" }, "stop"),
  ]);
  const env = new Map([["OPENAI_API_KEY", KEY], ["OPENAI_BASE_URL", `${server.url}/v1/`]]);
  const p = new OpenAIProvider({ env });
  const spec = (options: Record<string, unknown>) => ({
    provider: "openai",
    name: "m",
    options: { stream: false, ...options },
  });
  // The environment's base URL: the environment's key.
  await p.complete({ ...request(server), model: spec({}) });
  // The same server named by an image: no key unless the image names its variable.
  await p.complete({ ...request(server), model: spec({ baseURL: `${server.url}/v1/x` }) });
  assert.deepEqual(server.requests.map((r) => [r.path, r.headers.get("authorization")]), [
    ["/v1/chat/completions", `Bearer ${KEY}`],
    ["/v1/x/chat/completions", "Bearer no-key"],
  ]);
});

Deno.test("openai: a key written into the image is refused by name without echoing it", async () => {
  await using server = startModelServer([]);
  const e = await rejection(provider().complete(request(server, { apiKey: KEY })));
  assert.equal(e.code, "EINVAL");
  assert.match(e.message, /option 'apiKey' would put a secret into the image/);
  assert.ok(!e.message.includes(KEY));
  assert.equal(server.requests.length, 0);
});

Deno.test("openai: calling OpenAI itself with no key set fails with EPERM naming the variable", async () => {
  const p = new OpenAIProvider({ env: new Map() });
  const e = await rejection(p.complete({
    ...request({ url: "http://unused" } as ModelServer),
    model: { provider: "openai", name: "gpt-4o-mini" },
  }));
  assert.equal(e.code, "EPERM");
  assert.match(e.message, /OPENAI_API_KEY is not set/);
});

Deno.test("openai: the Responses API streams text and maps function calls both ways", async () => {
  const final = responseObject([
    responseMessage("Reading it."),
    responseCall("call_9", "read_text_file", '{"path":"README.md"}'),
  ], { input: 120, output: 30 });
  await using server = startModelServer([responseStream(["Reading ", "it."], final)]);
  const history: ContextMessage[] = [
    { role: "user", text: "Summarize." },
    {
      role: "assistant",
      text: "Listing.",
      calls: [{ id: "c0.0", name: "exit", args: { b: 1, a: 2 } }],
    },
    { role: "tool", callId: "c0.0", name: "exit", result: { ok: true, value: null } },
  ];
  const deltas: string[] = [];
  const r = await provider().complete(request(server, { api: "responses", maxTokens: 99 }, {
    messages: history,
    onDelta: (t) => deltas.push(t),
  }));
  assert.deepEqual(deltas, ["Reading ", "it."]);
  assert.deepEqual(r, {
    text: "Reading it.",
    calls: [{ name: "read_text_file", args: { path: "README.md" } }],
    usage: { inputTokens: 120, outputTokens: 30 },
    stop: "tool_calls",
  });
  const sent = server.requests[0]!;
  assert.equal(sent.path, "/v1/responses");
  assert.equal(sent.body!["instructions"], "You summarize repositories.");
  assert.equal(sent.body!["max_output_tokens"], 99);
  assert.deepEqual(sent.body!["input"], [
    { role: "user", content: "Summarize." },
    { role: "assistant", content: "Listing." },
    { type: "function_call", call_id: "c0.0", name: "exit", arguments: '{"a":2,"b":1}' },
    { type: "function_call_output", call_id: "c0.0", output: '{"ok":true,"value":null}' },
  ]);
  assert.deepEqual((sent.body!["tools"] as Record<string, unknown>[]).map((t) => t["name"]), [
    "read_text_file",
    "exit",
  ]);
});

Deno.test("openai: the Responses API reports an incomplete reply as max_tokens", async () => {
  await using server = startModelServer([{
    json: responseObject([responseMessage("Half")], {
      status: "incomplete",
      incomplete: "max_output_tokens",
    }),
  }]);
  const r = await provider().complete(request(server, { api: "responses", stream: false }));
  assert.deepEqual([r.stop, r.text], ["max_tokens", "Half"]);
});

Deno.test("openai: earlier messages serialize to the same bytes on every turn (a cacheable prefix)", () => {
  const turn1: ContextMessage[] = [
    { role: "user", text: "Summarize." },
    {
      role: "assistant",
      text: null,
      calls: [{ id: "c0.0", name: "read_text_file", args: { path: "a", z: [1, { y: 2, x: 1 }] } }],
    },
    { role: "tool", callId: "c0.0", name: "read_text_file", result: { ok: true, value: "text" } },
  ];
  // The same context after a journal round trip (key order may differ), plus a turn.
  const turn2: ContextMessage[] = [
    ...JSON.parse(JSON.stringify(turn1)).map((m: ContextMessage) =>
      m.role === "assistant"
        ? {
          ...m,
          calls: m.calls.map((c) => ({ ...c, args: { z: [1, { x: 1, y: 2 }], path: "a" } })),
        }
        : m
    ),
    { role: "assistant", text: "Done.", calls: [] },
  ];
  const a = JSON.stringify(chatMessages("sys", turn1));
  const b = JSON.stringify(chatMessages("sys", turn2));
  assert.ok(b.startsWith(a.slice(0, -1)), `${b}\ndoes not extend\n${a}`);
  const ra = JSON.stringify(responsesInput(turn1));
  const rb = JSON.stringify(responsesInput(turn2));
  assert.ok(rb.startsWith(ra.slice(0, -1)));
});
