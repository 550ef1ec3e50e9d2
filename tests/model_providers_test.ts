/**
 * Each real provider end to end: a kernel runs a process on it against a
 * loopback server speaking the vendor's wire protocol, through a tool call and
 * a final answer, and the API key shows up in no record the kernel keeps.
 */
import assert from "node:assert/strict";
import type { AgentImageInput, KernelEvent, ModelProvider } from "../mod.ts";
import { AnthropicProvider } from "../runtime/models/anthropic_provider.ts";
import { providersFromEnv } from "../runtime/models/model_providers.ts";
import { OpenAIProvider } from "../runtime/models/openai_provider.ts";
import { bootKernel } from "./helpers.ts";
import { type ModelServer, type Reply, startModelServer } from "./model_server.ts";
import { chatStream, unauthorized } from "./fixtures/openai_wire.ts";
import { apiError, messageStream } from "./fixtures/anthropic_wire.ts";

const OPENAI_KEY = "sk-proj-E2EKEY0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
const ANTHROPIC_KEY = "sk-ant-api03-E2EKEY0123456789abcdefghijklmnopqrstuvwxyzABCDEFG-AAAA";
const README = "# calc\nA tiny calculator library.\n";
/** The providers' environment: each case binds its key to its loopback server here. */
const ENV = new Map([["OPENAI_API_KEY", OPENAI_KEY], ["ANTHROPIC_API_KEY", ANTHROPIC_KEY]]);

interface Case {
  provider: () => ModelProvider;
  key: string;
  model: string;
  options: (server: ModelServer) => Record<string, unknown>;
  /** Turn 1 reads README.md; turn 2 answers. */
  replies: [Reply, Reply];
  /** A failure whose body echoes the key. */
  echo: Reply;
  /** The tool result as the second request carries it. */
  toolResultSent: (body: Record<string, unknown>) => string;
}

const CASES: Record<string, Case> = {
  openai: {
    provider: () =>
      new OpenAIProvider({
        env: ENV,
        retry: { maxRetries: 0 },
      }),
    key: OPENAI_KEY,
    model: "gpt-4o-mini",
    options: (server) => {
      ENV.set("OPENAI_BASE_URL", `${server.url}/v1`);
      return { baseURL: `${server.url}/v1`, apiKeyEnv: "OPENAI_API_KEY" };
    },
    replies: [
      chatStream({
        text: ["Reading ", "the README."],
        calls: [{ id: "call_1", name: "read_text_file", pieces: ['{"path":', '"README.md"}'] }],
        finish: "tool_calls",
      }),
      chatStream({ text: ["calc is a ", "tiny calculator."], finish: "stop" }),
    ],
    echo: unauthorized(OPENAI_KEY),
    toolResultSent: (body) => {
      const messages = body["messages"] as { role: string; content: string }[];
      return messages.find((m) => m.role === "tool")!.content;
    },
  },
  anthropic: {
    provider: () =>
      new AnthropicProvider({
        env: ENV,
        retry: { maxRetries: 0 },
      }),
    key: ANTHROPIC_KEY,
    model: "claude-sonnet-4-6",
    options: (server) => {
      ENV.set("ANTHROPIC_BASE_URL", server.url);
      return { baseURL: server.url, apiKeyEnv: "ANTHROPIC_API_KEY" };
    },
    replies: [
      messageStream([
        { type: "text", pieces: ["Reading ", "the README."] },
        {
          type: "tool_use",
          id: "toolu_1",
          name: "read_text_file",
          pieces: ['{"path":', '"README.md"}'],
        },
      ], "tool_use"),
      messageStream([{ type: "text", pieces: ["calc is a ", "tiny calculator."] }], "end_turn"),
    ],
    echo: apiError(401, `invalid x-api-key: ${ANTHROPIC_KEY}`),
    toolResultSent: (body) => {
      const messages = body["messages"] as { role: string; content: Record<string, unknown>[] }[];
      const block = messages.flatMap((m) => m.content).find((b) => b["type"] === "tool_result")!;
      return block["content"] as string;
    },
  },
};

function image(name: string, c: Case, server: ModelServer): AgentImageInput {
  return {
    id: `real-${name}`,
    name: `Summarizer on ${name}`,
    version: "1",
    systemPrompt: "You summarize repositories in one sentence.",
    model: { provider: name, name: c.model, options: c.options(server) },
    tools: ["read_text_file", "exit"],
    capabilities: [
      { resource: "fs:README.md", rights: ["read"] },
      { resource: `model:${name}/${c.model}`, rights: ["call"] },
    ],
  };
}

/** Everything the kernel recorded about a process, as one text. */
async function records(
  t: Awaited<ReturnType<typeof bootKernel>>,
  pid: string,
  events: KernelEvent[],
): Promise<string> {
  return JSON.stringify([
    await t.kernel.journal(pid),
    await t.kernel.audit({}),
    events,
    t.kernel.get(pid),
  ]);
}

for (const [name, c] of Object.entries(CASES)) {
  Deno.test(`${name}: a process runs a tool call then a final answer through the real SDK`, async () => {
    await using server = startModelServer(c.replies);
    await using t = await bootKernel({ models: [c.provider()], files: { "README.md": README } });
    const events: KernelEvent[] = [];
    using _sub = t.kernel.subscribe((e) => events.push(e));
    const p = await t.kernel.spawn({ image: image(name, c, server), goal: "Summarize README.md" });
    const done = await t.kernel.wait(p.pid, { until: "terminal" });

    assert.equal(done.state, "exited", `${done.state}: ${done.reason}`);
    assert.deepEqual(done.result, { text: "calc is a tiny calculator." });
    // The model's tool call ran and its result went back to the model.
    assert.equal(server.requests.length, 2);
    assert.deepEqual(JSON.parse(c.toolResultSent(server.requests[1]!.body!)), {
      ok: true,
      value: { text: README },
    });
    // The journal holds both responses; the events carried the deltas in order.
    const responses = (await t.kernel.journal(p.pid)).filter((e) => e.kind === "model.response");
    assert.deepEqual(responses.map((e) => [e.data["text"], e.data["stop"]]), [
      ["Reading the README.", "tool_calls"],
      ["calc is a tiny calculator.", "end"],
    ]);
    assert.deepEqual(
      (responses[0]!.data["calls"] as { name: string; args: unknown }[]).map((
        x,
      ) => [x.name, x.args]),
      [["read_text_file", { path: "README.md" }]],
    );
    const deltas = events.flatMap((e) => e.type === "model.delta" ? [e.text] : []);
    assert.deepEqual(deltas, ["Reading ", "the README.", "calc is a ", "tiny calculator."]);
    assert.ok(done.usage.tokens > 0, "usage is charged");
    // The key is in no record, no event and not in the process.
    assert.ok(!(await records(t, p.pid, events)).includes(c.key));
  });

  Deno.test(`${name}: a failed call fails the process with a reason that holds no key`, async () => {
    await using server = startModelServer([c.echo]);
    await using t = await bootKernel({ models: [c.provider()], files: { "README.md": README } });
    const events: KernelEvent[] = [];
    using _sub = t.kernel.subscribe((e) => events.push(e));
    const p = await t.kernel.spawn({ image: image(name, c, server), goal: "Summarize README.md" });
    const done = await t.kernel.wait(p.pid, { until: "terminal" });

    assert.equal(done.state, "failed");
    assert.match(
      done.reason ?? "",
      /model call failed: Cannot call model .*HTTP 401.*\[redacted\]/,
    );
    assert.ok(!(await records(t, p.pid, events)).includes(c.key));
  });
}

Deno.test("openai: killing a process mid-stream aborts the model call and journals no response", async () => {
  const c = CASES["openai"]!;
  await using server = startModelServer([
    chatStream({ text: ["Reading"], finish: "stop", hang: true }),
  ]);
  await using t = await bootKernel({ models: [c.provider()], files: { "README.md": README } });
  let pid = "";
  using _sub = t.kernel.subscribe((e) => {
    if (e.type === "model.delta") queueMicrotask(() => void t.kernel.signal(pid, "kill"));
  });
  pid = (await t.kernel.spawn({ image: image("openai", c, server), goal: "Summarize" })).pid;
  const done = await t.kernel.wait(pid, { until: "terminal" });
  assert.equal(done.state, "killed");
  assert.equal(server.requests.length, 1, "a cancelled call is not retried");
  const kinds = (await t.kernel.journal(pid)).map((e) => e.kind);
  assert.ok(!kinds.includes("model.response"), kinds.join(", "));
});

Deno.test("providersFromEnv: openai always, anthropic only with its key or base URL", () => {
  const names = (env: Record<string, string>) =>
    providersFromEnv(new Map(Object.entries(env))).map((p) => p.name);
  assert.deepEqual(names({}), ["openai"]);
  assert.deepEqual(names({ ANTHROPIC_API_KEY: "x" }), ["openai", "anthropic"]);
  assert.deepEqual(names({ ANTHROPIC_BASE_URL: "http://127.0.0.1:1" }), ["openai", "anthropic"]);
});
