import assert from "node:assert/strict";
import { anthropicMessages, AnthropicProvider, toolUseId } from "./anthropic_provider.ts";
import type { ContextMessage, ModelRequest } from "./model_provider.ts";
import { MALFORMED_KEY } from "../process/tool_call_args.ts";
import { type ModelServer, startModelServer } from "../../tests/model_server.ts";
import {
  boundRequest,
  type ProviderTarget,
  recordingRetry,
  rejection,
} from "../../tests/fixtures/provider_kit.ts";
import {
  apiError,
  message,
  messageStream,
  messageUsage,
} from "../../tests/fixtures/anthropic_wire.ts";

const KEY = "sk-ant-api03-TESTKEY0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-AAAAAA";

/** The provider's environment; `request` binds the key to its test server there. */
const ENV = new Map([["ANTHROPIC_API_KEY", KEY]]);

const TARGET: ProviderTarget = {
  provider: "anthropic",
  name: "claude-sonnet-4-6",
  keyEnv: "ANTHROPIC_API_KEY",
  baseURL: (server) => server.url,
};

function provider(sleeps: number[] = []): AnthropicProvider {
  return new AnthropicProvider({ env: ENV, retry: recordingRetry(sleeps, 0) });
}

function request(
  server: ModelServer,
  options: Record<string, unknown> = {},
  extra: Partial<ModelRequest> = {},
): ModelRequest {
  return boundRequest(ENV, TARGET, server, options, extra);
}

Deno.test("anthropic: a plain reply comes back as final text with its usage, cache reads included", async () => {
  await using server = startModelServer([
    message([{ type: "text", text: "It is a calculator." }], "end_turn", messageUsage(20, 8, 100)),
  ]);
  const r = await provider().complete(request(server, { stream: false }));
  assert.deepEqual(r, {
    text: "It is a calculator.",
    calls: [],
    usage: { inputTokens: 120, outputTokens: 8 },
    stop: "end",
  });
  const sent = server.requests[0]!;
  assert.equal(sent.path, "/v1/messages");
  // This SDK release sends the key as a bearer token.
  assert.equal(sent.headers.get("authorization"), `Bearer ${KEY}`);
  assert.ok(sent.headers.get("anthropic-version"));
  assert.equal(sent.body!["model"], "claude-sonnet-4-6");
  assert.equal(sent.body!["max_tokens"], 4096);
  assert.deepEqual(sent.body!["system"], [
    { type: "text", text: "You summarize repositories.", cache_control: { type: "ephemeral" } },
  ]);
  const tools = sent.body!["tools"] as Record<string, Record<string, unknown>>[];
  assert.deepEqual(tools.map((t) => t["name"]), ["read_text_file", "exit"]);
  assert.equal(tools[0]!["input_schema"]!["type"], "object");
  assert.equal(tools[0]!["input_schema"]!["$schema"], undefined);
});

Deno.test("anthropic: several tool_use blocks in one turn come back in order", async () => {
  await using server = startModelServer([
    message([
      { type: "text", text: "Reading both." },
      { type: "tool_use", id: "toolu_01A", name: "read_text_file", input: { path: "README.md" } },
      { type: "tool_use", id: "toolu_01B", name: "read_text_file", input: { path: "src/calc.ts" } },
    ], "tool_use"),
  ]);
  const r = await provider().complete(request(server, { stream: false }));
  assert.deepEqual(r, {
    text: "Reading both.",
    calls: [
      { name: "read_text_file", args: { path: "README.md" } },
      { name: "read_text_file", args: { path: "src/calc.ts" } },
    ],
    usage: { inputTokens: 60, outputTokens: 14 },
    stop: "tool_calls",
  });
});

Deno.test("anthropic: a streamed reply delivers text deltas in order and assembles tool input JSON", async () => {
  await using server = startModelServer([
    messageStream(
      [
        { type: "text", pieces: ["Reading ", "the ", "README."] },
        {
          type: "tool_use",
          id: "toolu_01A",
          name: "read_text_file",
          pieces: ['{"path": ', '"READ', 'ME.md"}'],
        },
        { type: "tool_use", id: "toolu_01B", name: "exit", pieces: [] },
      ],
      "tool_use",
      { input: 300, output: 42 },
    ),
  ]);
  const deltas: string[] = [];
  const r = await provider().complete(request(server, {}, { onDelta: (t) => deltas.push(t) }));
  assert.deepEqual(deltas, ["Reading ", "the ", "README."]);
  assert.deepEqual(r, {
    text: "Reading the README.",
    calls: [
      { name: "read_text_file", args: { path: "README.md" } },
      { name: "exit", args: {} },
    ],
    usage: { inputTokens: 300, outputTokens: 42 },
    stop: "tool_calls",
  });
  assert.equal(server.requests[0]!.body!["stream"], true);
});

Deno.test("anthropic: a 429 is retried after backoff, then the success is returned", async () => {
  await using server = startModelServer([
    apiError(429, "Number of request tokens has exceeded your per-minute rate limit"),
    messageStream([{ type: "text", pieces: ["ok"] }], "end_turn"),
  ]);
  const sleeps: number[] = [];
  const r = await provider(sleeps).complete(request(server));
  assert.equal(r.text, "ok");
  assert.equal(server.requests.length, 2);
  assert.deepEqual(sleeps, [250]);
});

Deno.test("anthropic: a 500 and a 529 overload are retried with doubling backoff", async () => {
  await using server = startModelServer([
    apiError(500, "Internal server error"),
    apiError(529, "Overloaded"),
    message([{ type: "text", text: "fine" }], "end_turn"),
  ]);
  const sleeps: number[] = [];
  const r = await provider(sleeps).complete(request(server, { stream: false, maxRetries: 2 }));
  assert.equal(r.text, "fine");
  assert.deepEqual(sleeps, [250, 500]);
});

Deno.test("anthropic: retries that run out fail cleanly with the status and the attempt count", async () => {
  await using server = startModelServer([apiError(529, "Overloaded"), apiError(529, "Overloaded")]);
  const e = await rejection(provider().complete(request(server, { maxRetries: 1 })));
  assert.equal(e.code, "EUNKNOWN");
  assert.match(
    e.message,
    /^Cannot call model 'anthropic\/claude-sonnet-4-6': HTTP 529 after 2 attempts/,
  );
});

Deno.test("anthropic: malformed streamed tool input becomes a marked call carrying the raw text", async () => {
  await using server = startModelServer([
    messageStream([
      { type: "tool_use", id: "toolu_01A", name: "read_text_file", pieces: ['{"path": "READ'] },
    ], "tool_use"),
  ]);
  const r = await provider().complete(request(server));
  assert.deepEqual(r.calls, [{
    name: "read_text_file",
    args: { [MALFORMED_KEY]: '{"path": "READ' },
  }]);
});

Deno.test("anthropic: a refusal stop ends the turn as a refusal with no calls", async () => {
  await using server = startModelServer([
    messageStream([{ type: "text", pieces: ["I can't help with that."] }], "refusal"),
  ]);
  const r = await provider().complete(request(server));
  assert.deepEqual([r.stop, r.text, r.calls], ["refusal", "I can't help with that.", []]);
});

Deno.test("anthropic: a max-tokens stop is reported as max_tokens with the partial text", async () => {
  await using server = startModelServer([
    message([{ type: "text", text: "The repository contains" }], "max_tokens"),
  ]);
  const r = await provider().complete(request(server, { stream: false, maxTokens: 5 }));
  assert.deepEqual([r.stop, r.text], ["max_tokens", "The repository contains"]);
  assert.equal(server.requests[0]!.body!["max_tokens"], 5);
});

Deno.test("anthropic: aborting the signal mid-stream cancels the call and is not retried", async () => {
  await using server = startModelServer([
    messageStream([{ type: "text", pieces: ["partial"] }], "end_turn", { hang: true }),
  ]);
  const abort = new AbortController();
  const e = await rejection(
    provider().complete(request(server, {}, {
      signal: abort.signal,
      onDelta: () => abort.abort(),
    })),
  );
  assert.equal(e.code, "ECANCELED");
  assert.equal(server.requests.length, 1);
});

Deno.test("anthropic: the API key never appears in a thrown error, even when the server echoes it", async () => {
  await using server = startModelServer([apiError(401, `invalid x-api-key: ${KEY}`)]);
  const e = await rejection(provider().complete(request(server, { stream: false })));
  assert.equal(e.code, "EPERM");
  assert.ok(!e.message.includes(KEY), e.message);
  assert.ok(!JSON.stringify(e).includes(KEY));
  assert.match(e.message, /\[redacted\]/);
});

Deno.test("anthropic: tool results become tool_result blocks of one user message, with safe ids", async () => {
  const history: ContextMessage[] = [
    { role: "user", text: "Summarize." },
    {
      role: "assistant",
      text: null,
      calls: [
        { id: "c0.0", name: "read_text_file", args: { path: "a" } },
        { id: "c0.1", name: "read_text_file", args: { path: "b" } },
      ],
    },
    { role: "tool", callId: "c0.0", name: "read_text_file", result: { ok: true, value: "A" } },
    {
      role: "tool",
      callId: "c0.1",
      name: "read_text_file",
      result: { ok: false, error: { code: "ENOENT", message: "no b" } },
    },
  ];
  await using server = startModelServer([message([{ type: "text", text: "Done." }], "end_turn")]);
  await provider().complete(request(server, { stream: false }, { messages: history }));
  assert.deepEqual(server.requests[0]!.body!["messages"], [
    { role: "user", content: [{ type: "text", text: "Summarize." }] },
    {
      role: "assistant",
      content: [
        { type: "tool_use", id: "c0_0", name: "read_text_file", input: { path: "a" } },
        { type: "tool_use", id: "c0_1", name: "read_text_file", input: { path: "b" } },
      ],
    },
    {
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: "c0_0",
          content: '{"ok":true,"value":"A"}',
          is_error: false,
        },
        {
          type: "tool_result",
          tool_use_id: "c0_1",
          content: '{"error":{"code":"ENOENT","message":"no b"},"ok":false}',
          is_error: true,
          cache_control: { type: "ephemeral" },
        },
      ],
    },
  ]);
  assert.equal(toolUseId("c12.3"), "c12_3");
});

Deno.test("anthropic: earlier messages serialize to the same bytes on every turn, apart from the breakpoint", () => {
  const turn1: ContextMessage[] = [
    { role: "user", text: "Summarize." },
    {
      role: "assistant",
      text: "Reading.",
      calls: [{ id: "c0.0", name: "exit", args: { b: 1, a: 2 } }],
    },
    { role: "tool", callId: "c0.0", name: "exit", result: { ok: true, value: null } },
  ];
  const turn2: ContextMessage[] = [
    ...turn1,
    { role: "assistant", text: "Next.", calls: [] },
    { role: "user", text: "Go on." },
  ];
  const strip = (m: unknown) =>
    JSON.stringify(m, (k, v) => (k === "cache_control" ? undefined : v));
  const a = strip(anthropicMessages(turn1));
  const b = strip(anthropicMessages(turn2));
  assert.ok(b.startsWith(a.slice(0, -1)), `${b}\ndoes not extend\n${a}`);
});
