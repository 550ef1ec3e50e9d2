/**
 * The kernel as an MCP client, against real servers run as real processes
 * under bubblewrap: `@modelcontextprotocol/server-everything` (npm, pinned)
 * and a small server of our own (tests/fixtures/mcp_server.ts, written with
 * the SDK's McpServer). Each call is a primitive: decided, journaled,
 * audited, kept as an object; crash recovery, pinning and limits hold.
 *
 * @module
 */
import assert from "node:assert/strict";

const ok: (v: unknown, message?: string) => asserts v = assert.ok;
const assertEquals = <T>(a: T, b: T, message?: string) => assert.deepEqual(a, b, message);
const assertMatch = (s: string, re: RegExp) => assert.match(s, re);
import {
  type AgentImageInput,
  bodyText,
  FakeClock,
  Kernel,
  LocalFilesystem,
  McpClients,
  MemoryStore,
  NetProvider,
  parseMcpConfig,
  ShellProvider,
} from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import type { Store } from "../runtime/store/store.ts";
import { call, outcome, toolResults } from "./helpers.ts";
import type { ModelProvider } from "../runtime/models/model_provider.ts";
import { AnthropicProvider } from "../runtime/models/anthropic_provider.ts";
import { OpenAIProvider } from "../runtime/models/openai_provider.ts";
import { type Reply, startModelServer } from "./model_server.ts";
import { chatStream } from "./fixtures/openai_wire.ts";
import { messageStream } from "./fixtures/anthropic_wire.ts";

const DENO = Deno.execPath();
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname.replace(/\/$/, "");
const EVERYTHING = "npm:@modelcontextprotocol/server-everything@2026.8.31";
const FILESYSTEM = "npm:@modelcontextprotocol/server-filesystem@2026.8.31";
/** The repository's lock: the servers' dependencies resolve as `deno install --frozen` cached them. */
const LOCK = new URL("../deno.lock", import.meta.url).pathname;
const RUN = ["run", "-A", "--no-config", "--lock", LOCK, "--frozen", "--cached-only"];

/** Deno's cache folder (its npm packages are what the servers' programs are). */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(DENO, { args: ["info", "--json"], stdout: "piped" }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
}

/** The operator's config, as a file would say it (with `servers` added). */
async function config(servers: Record<string, unknown> = {}): Promise<McpClients> {
  const dir = await denoDir();
  const run = RUN;
  const text = JSON.stringify({
    mcpServers: {
      ...servers,
      everything: {
        command: "${DENO}",
        args: [...run, EVERYTHING, "stdio"],
        env: { DENO_DIR: "${DENO_DIR}", HOME: "/tmp" },
        readOnly: ["${DENO_DIR}", LOCK],
      },
      test: {
        command: "${DENO}",
        args: [...run, `${FIXTURES}/mcp_server.ts`],
        env: { DENO_DIR: "${DENO_DIR}", HOME: "/tmp" },
        readOnly: ["${DENO_DIR}", LOCK, FIXTURES],
        maxResultBytes: 4096,
      },
    },
  });
  const cfg = parseMcpConfig(text, { file: "test.json", env: { DENO, DENO_DIR: dir } });
  return new McpClients(cfg, { backoffMs: 10 });
}

interface Rig extends AsyncDisposable {
  kernel: Kernel;
  clock: FakeClock;
  workspace: string;
  mcp: McpClients;
}

interface RigOptions {
  store?: Store;
  workspace?: string;
  models?: ModelProvider[];
  /** More servers of the operator's config. */
  servers?: Record<string, unknown>;
  /** The shell provider's bubblewrap mode and unconfined permission (default: auto, false). */
  bubblewrap?: "auto" | "off";
  unconfined?: boolean;
  /** Give the kernel a network provider (default false). */
  net?: boolean;
}

async function rig(options: RigOptions = {}): Promise<Rig> {
  const workspace = options.workspace ?? await Deno.makeTempDir({ prefix: "libos-mcp-" });
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const mcp = await config(options.servers);
  const shell = new ShellProvider({
    workspace,
    bubblewrap: options.bubblewrap ?? "auto",
    unconfined: options.unconfined ?? false,
  });
  const kernel = await Kernel.create({
    clock,
    filesystem: new LocalFilesystem(workspace),
    shell,
    mcp,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.models === undefined ? {} : { models: options.models }),
    ...(options.net === true ? { net: new NetProvider() } : {}),
  });
  return {
    kernel,
    clock,
    workspace,
    mcp,
    async [Symbol.asyncDispose]() {
      await kernel.close();
      await mcp[Symbol.asyncDispose]();
      await shell[Symbol.asyncDispose]();
      if (options.workspace === undefined) await Deno.remove(workspace, { recursive: true });
    },
  };
}

function image(
  steps: { tool: string; args: Record<string, unknown> }[],
  options: { mcp: Record<string, string[]>; capabilities: AgentImageInput["capabilities"] },
): AgentImageInput {
  return {
    id: `mcp-${crypto.randomUUID().slice(0, 8)}`,
    name: "mcp test",
    version: "1",
    model: { provider: "scripted", steps },
    tools: ["exit", "sleep", "mcp_read_resource"],
    mcp: options.mcp,
    capabilities: [{ resource: "fs:**", rights: ["read", "write"] }, ...options.capabilities ?? []],
  };
}

async function counted(workspace: string): Promise<number> {
  const text = await Deno.readTextFile(`${workspace}/count.log`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

Deno.test("server-everything: an allowed call runs and is journaled, audited and kept; a deny, bad arguments and an unlisted tool are refused before the server is asked", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("everything.echo", { message: "hi" }),
      call("everything.echo", { message: 5 }),
      call("everything.get-sum", { a: 1, b: 2 }),
      call("everything.get-env", {}),
      call("exit", { result: "done" }),
    ], {
      mcp: { everything: ["echo", "get-*"] },
      capabilities: [
        { resource: "mcp:everything/*", rights: ["call"] },
        { resource: "mcp:everything/get-sum", rights: ["call"], effect: "deny" },
      ],
    }),
    goal: "echo",
  });
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["ok", "EINVAL", "EPERM", "ok", "ok"]);
  const echo = results[0]!.result as {
    ok: true;
    value: { content: { text: string }[]; object: string };
  };
  assertEquals(echo.value.content[0]!.text, "Echo: hi");
  assertMatch(JSON.stringify(results[1]!.result), /do not match its input schema/);
  // Only the kernel-given env reaches the server: no kernel variable leaks.
  const env = JSON.stringify((results[3]!.result as { value: unknown }).value);
  ok(!env.includes(Deno.env.get("PATH") ?? "\u0000") || env.includes("/usr/bin:/bin"));
  ok(!/LIBOS_|HOSTNAME/.test(env), env.slice(0, 300));
  const kept = r.kernel.object(echo.value.object);
  assertEquals(kept?.type, "tool_result");
  const journal = await r.kernel.journal(p.pid);
  const syscalls = journal.filter((e) => e.kind === "syscall" && e.data["name"] === "mcp.call");
  assertEquals(syscalls.map((e) => e.data["ok"]), [true, false, false, true]);
  const intents = journal.filter((e) => e.kind === "syscall.intent");
  assertEquals(intents.length, 2, "an intent only for the calls that went out");
  const audit = await r.kernel.audit({ action: "mcp.call" });
  assertEquals(audit.map((a) => a.decision), ["allow", "deny", "allow"]);
  const pins = Object.keys(r.kernel.get(p.pid).mcpPins ?? {}).sort();
  ok(pins.includes("everything.echo") && pins.includes("everything.get-sum"), pins.join());
  ok(!pins.includes("everything.trigger-long-running-operation"), "only the wanted tools");
});

Deno.test("ask → approve runs the call once; a uses: 1 grant allows one call", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("test.count", { note: "a" }),
      call("test.shape", { x: 1 }),
      call("test.shape", { x: 2 }),
      call("exit", { result: "done" }),
    ], {
      mcp: { test: ["count", "shape"] },
      capabilities: [
        { resource: "mcp:test/count", rights: ["call"], effect: "ask" },
        { resource: "mcp:test/shape", rights: ["call"], uses: 1 },
      ],
    }),
    goal: "ask",
  });
  await r.kernel.wait(p.pid);
  const [req] = r.kernel.humanRequests({ pid: p.pid, state: "pending" });
  ok(req !== undefined && req.kind === "approval");
  assertMatch(bodyText(req.preview), /call test\.count \{"note":"a"\}/);
  await r.kernel.answer(req.id, { decision: "approve" });
  await r.kernel.wait(p.pid, { until: "terminal" });
  assertEquals((await toolResults(r.kernel, p.pid)).map(outcome), ["ok", "ok", "EPERM", "ok"]);
  assertEquals(await counted(r.workspace), 1, "the approved call ran once");
});

Deno.test("a kernel crash while a call runs: after restart the call is EUNKNOWN and the server is not called again", async () => {
  const workspace = await Deno.makeTempDir({ prefix: "libos-mcp-" });
  try {
    const store = new CrashableStore(new MemoryStore());
    // The server acted, then the kernel died before the result was durable.
    store.crashAt((batch) =>
      batch.some((m) =>
          m.kind === "journal.append" && m.entry.kind === "syscall" &&
          m.entry.data["name"] === "mcp.call"
        )
        ? "before"
        : null
    );
    const img = image([
      call("test.count", { note: "once" }),
      call("exit", { result: "done" }),
    ], { mcp: { test: ["count"] }, capabilities: [{ resource: "mcp:test/*", rights: ["call"] }] });
    let pid: string;
    {
      const r1 = await rig({ store, workspace });
      pid = (await r1.kernel.spawn({ image: img, goal: "count" })).pid;
      for (let i = 0; i < 600 && !store.crashed; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      ok(store.crashed, "the crash point was reached");
      await r1.mcp[Symbol.asyncDispose](); // the dead kernel's servers go with it
    }
    assertEquals(await counted(workspace), 1);
    await using r2 = await rig({ store: store.inner as MemoryStore, workspace });
    await r2.kernel.wait(pid, { until: "terminal" });
    assertEquals((await toolResults(r2.kernel, pid)).map(outcome), ["EUNKNOWN", "ok"]);
    assertEquals(await counted(workspace), 1, "no second call");
  } finally {
    await Deno.remove(workspace, { recursive: true });
  }
});

Deno.test("a server killed during a call gives EUNKNOWN with a clear message; it is started again for the next call", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("test.die", {}),
      call("test.shape", { x: 3 }),
      call("exit", { result: "done" }),
    ], {
      mcp: { test: ["die", "shape"] },
      capabilities: [{ resource: "mcp:test/*", rights: ["call"] }],
    }),
    goal: "die",
  });
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["EUNKNOWN", "ok", "ok"]);
  assertMatch(JSON.stringify(results[0]!.result), /went away during the request/);
});

Deno.test("a result over the server's maxResultBytes is refused, not cut, and nothing of it is kept", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("test.big", { n: 100 }),
      call("test.big", { n: 10_000 }),
      call("exit", { result: "done" }),
    ], { mcp: { test: ["big"] }, capabilities: [{ resource: "mcp:test/*", rights: ["call"] }] }),
    goal: "big",
  });
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["ok", "ELIMIT", "ok"]);
  assertMatch(JSON.stringify(results[1]!.result), /more than the 4096 bytes/);
  const objects = r.kernel.listObjects(`proc/${p.pid}`).filter((o) => o.type === "tool_result");
  assertEquals(objects.length, 1);
});

Deno.test("a definition that changed between two calls is refused until an operator approves the new one (tool_change, with the diff)", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("test.shape", { x: 1 }),
      call("test.mutate", {}),
      call("test.shape", { x: 2 }),
      call("sleep", { ms: 1000 }),
      call("test.shape", { x: 3 }),
      call("exit", { result: "done" }),
    ], {
      mcp: { test: ["shape", "mutate"] },
      capabilities: [{ resource: "mcp:test/*", rights: ["call"] }],
    }),
    goal: "change",
  });
  await r.kernel.wait(p.pid);
  const [req] = r.kernel.humanRequests({ pid: p.pid, state: "pending" });
  ok(req !== undefined, "a tool_change request");
  assertEquals(req.kind, "tool_change");
  assertMatch(bodyText(req.preview), /\+ description: "Answer the input \(now different\)"/);
  await r.kernel.answer(req.id, { decision: "approve" });
  r.clock.advance(1000);
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["ok", "ok", "EPERM", "ok", "ok", "ok"]);
  assertMatch(JSON.stringify(results[2]!.result), /definition changed/);
  const changes = await r.kernel.audit({ action: "mcp.tool_change" });
  assertEquals(changes.map((a) => a.decision), ["ask", "allow"]);
});

Deno.test("mcp_read_resource reads under mcp:<server>/resource:<uri> right read, keeps the content as an object, and is refused without it", async () => {
  await using r = await rig();
  const p = await r.kernel.spawn({
    image: image([
      call("mcp_read_resource", { server: "test", uri: "note://hello" }),
      call("mcp_read_resource", { server: "test", uri: "note://other" }),
      call("exit", { result: "done" }),
    ], {
      mcp: { test: [] },
      capabilities: [{ resource: "mcp:test/resource:note://hello", rights: ["read"] }],
    }),
    goal: "read",
  });
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["ok", "EPERM", "ok"]);
  const value = (results[0]!.result as { value: { contents: { text: string }[]; object: string } })
    .value;
  assertEquals(value.contents[0]!.text, "hello");
  assertEquals(r.kernel.object(value.object).type, "tool_result");
});

/** A real provider against the loopback model server: its two turns call `everything__echo`, then answer. */
const WIRE_CASES: Record<string, {
  provider: (env: Map<string, string>) => ModelProvider;
  model: string;
  baseURL: (url: string) => string;
  replies: [Reply, Reply];
  /** The tool names the first request offered. */
  toolsSent: (body: Record<string, unknown>) => string[];
  /** The tool names of the calls the second request carries in its history. */
  historySent: (body: Record<string, unknown>) => string[];
}> = {
  openai: {
    provider: (env) => new OpenAIProvider({ env, retry: { maxRetries: 0 } }),
    model: "gpt-4o-mini",
    baseURL: (url) => `${url}/v1`,
    replies: [
      chatStream({
        calls: [{ id: "call_1", name: "everything__echo", pieces: ['{"message":"wire"}'] }],
        finish: "tool_calls",
      }),
      chatStream({ text: ["done"], finish: "stop" }),
    ],
    toolsSent: (body) =>
      (body["tools"] as { function: { name: string } }[]).map((t) => t.function.name),
    historySent: (body) =>
      (body["messages"] as { tool_calls?: { function: { name: string } }[] }[])
        .flatMap((m) => m.tool_calls ?? []).map((c) => c.function.name),
  },
  anthropic: {
    provider: (env) => new AnthropicProvider({ env, retry: { maxRetries: 0 } }),
    model: "claude-sonnet-4-6",
    baseURL: (url) => url,
    replies: [
      messageStream([
        {
          type: "tool_use",
          id: "toolu_1",
          name: "everything__echo",
          pieces: ['{"message":"wire"}'],
        },
      ], "tool_use"),
      messageStream([{ type: "text", pieces: ["done"] }], "end_turn"),
    ],
    toolsSent: (body) => (body["tools"] as { name: string }[]).map((t) => t.name),
    historySent: (body) =>
      (body["messages"] as { content: { type: string; name?: string }[] }[])
        .flatMap((m) => m.content).filter((b) => b.type === "tool_use").map((b) => b.name!),
  },
};

for (const [name, c] of Object.entries(WIRE_CASES)) {
  Deno.test(`${name}: MCP tools reach the vendor under wire-safe names and a call of 'everything__echo' runs everything.echo`, async () => {
    await using server = startModelServer(c.replies);
    const keyEnv = `${name.toUpperCase()}_API_KEY`;
    const env = new Map([[keyEnv, "sk-test-0123456789"], [
      `${name.toUpperCase()}_BASE_URL`,
      c.baseURL(server.url),
    ]]);
    await using r = await rig({ models: [c.provider(env)] });
    const p = await r.kernel.spawn({
      image: {
        id: `wire-${name}`,
        name: "wire names",
        version: "1",
        model: {
          provider: name,
          name: c.model,
          options: { baseURL: c.baseURL(server.url), apiKeyEnv: keyEnv },
        },
        tools: ["exit"],
        mcp: { everything: ["echo", "get-sum"] },
        capabilities: [
          { resource: `model:${name}/${c.model}`, rights: ["call"] },
          { resource: "mcp:everything/echo", rights: ["call"] },
        ],
      },
      goal: "echo",
    });
    const done = await r.kernel.wait(p.pid, { until: "terminal" });
    assertEquals(done.state, "exited", done.reason ?? "");
    const sent = c.toolsSent(server.requests[0]!.body!).sort();
    assertEquals(sent, ["everything__echo", "everything__get-sum", "exit"]);
    for (const n of sent) assertMatch(n, /^[a-zA-Z0-9_-]{1,64}$/);
    // The kernel ran the MCP tool the wire name stands for, under its own name.
    const results = await toolResults(r.kernel, p.pid);
    assertEquals(results.map((x) => [x.name, outcome(x)]), [["everything.echo", "ok"]]);
    const value = (results[0]!.result as { value: { content: { text: string }[] } }).value;
    assertEquals(value.content[0]!.text, "Echo: wire");
    const audit = await r.kernel.audit({ action: "mcp.call" });
    assertEquals(audit.map((a) => [a.resource, a.decision]), [["mcp:everything/echo", "allow"]]);
    // The next turn's history names the call as the vendor knows it.
    assertEquals(c.historySent(server.requests[1]!.body!), ["everything__echo"]);
  });
}

Deno.test("server-filesystem (stdio) sees the workspace as the process's fs grants show it: it lists and reads the granted folder; a hidden folder, a path outside its root and a write are refused", async () => {
  const workspace = await Deno.makeTempDir({ prefix: "libos-mcp-fs-" });
  await Deno.mkdir(`${workspace}/pub`);
  await Deno.mkdir(`${workspace}/secret`);
  await Deno.writeTextFile(`${workspace}/pub/a.txt`, "public words");
  await Deno.writeTextFile(`${workspace}/secret/s.txt`, "secret words");
  try {
    await using r = await rig({
      workspace,
      servers: {
        files: {
          command: "${DENO}",
          args: [...RUN, FILESYSTEM, "."],
          env: { DENO_DIR: "${DENO_DIR}", HOME: "/tmp" },
          readOnly: ["${DENO_DIR}", LOCK],
        },
      },
    });
    const p = await r.kernel.spawn({
      image: {
        id: "mcp-files",
        name: "files",
        version: "1",
        model: {
          provider: "scripted",
          steps: [
            call("files.list_directory", { path: "pub" }),
            call("files.read_text_file", { path: "pub/a.txt" }),
            call("files.read_text_file", { path: "secret/s.txt" }),
            call("files.read_text_file", { path: "/etc/passwd" }),
            call("files.write_file", { path: "pub/b.txt", content: "x" }),
            call("exit", { result: "done" }),
          ],
        },
        tools: ["exit"],
        mcp: { files: ["list_directory", "read_text_file", "write_file"] },
        capabilities: [
          { resource: "fs:pub/**", rights: ["read"] },
          { resource: "mcp:files/*", rights: ["call"] },
        ],
      },
      goal: "read through the server",
    });
    await r.kernel.wait(p.pid, { until: "terminal" });
    const results = await toolResults(r.kernel, p.pid);
    assertEquals(results.map(outcome), ["ok", "ok", "ok", "ok", "ok", "ok"]);
    const said = results.map((x) => {
      const v = (x.result as { value: { content?: { text: string }[]; isError?: boolean } }).value;
      return { text: v.content?.map((c) => c.text).join("") ?? "", isError: v.isError };
    });
    assertMatch(said[0]!.text, /\[FILE\] a\.txt/);
    assertEquals(said[1], { text: "public words", isError: false });
    // Hidden by the view: the server finds no such file (nothing of it leaks).
    assertEquals(said[2]!.isError, true);
    ok(!said[2]!.text.includes("secret words"), said[2]!.text);
    // Outside the server's root: the server itself refuses.
    assertEquals(said[3]!.isError, true);
    assertMatch(said[3]!.text, /outside allowed directories|Access denied/);
    // The grant is read-only, so the view is: the write does not reach the host.
    assertEquals(said[4]!.isError, true);
    assertEquals(await Deno.stat(`${workspace}/pub/b.txt`).catch(() => null), null);
  } finally {
    await Deno.remove(workspace, { recursive: true });
  }
});

Deno.test("without bubblewrap a stdio server is not started (EPERM) unless the operator allowed unconfined programs", async () => {
  for (const unconfined of [false, true]) {
    await using r = await rig({ bubblewrap: "off", unconfined });
    const p = await r.kernel.spawn({
      image: image([call("everything.echo", { message: "hi" }), call("exit", { result: "done" })], {
        mcp: { everything: ["echo"] },
        capabilities: [{ resource: "mcp:everything/echo", rights: ["call"] }],
      }),
      goal: "echo",
    });
    await r.kernel.wait(p.pid, { until: "terminal" });
    const results = await toolResults(r.kernel, p.pid);
    if (unconfined) {
      assertEquals(results.map(outcome), ["ok", "ok"]);
    } else {
      assertEquals(results.map(outcome), ["EPERM", "ok"]);
      assertMatch(JSON.stringify(results[0]!.result), /cannot be confined.*--unconfined-shell/);
      const intents = (await r.kernel.journal(p.pid)).filter((e) => e.kind === "syscall.intent");
      assertEquals(intents.length, 0, "nothing went out");
    }
  }
});

/** server-everything over streamable HTTP as a real process on a free loopback port. */
async function everythingOverHttp(): Promise<AsyncDisposable & { url: string }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command(DENO, {
    args: [...RUN, EVERYTHING, "streamableHttp"],
    env: { PORT: String(port), DENO_DIR: await denoDir() },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  };
  // It says "listening on port N" on standard error once it listens; bounded by a deadline.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  const deadline = AbortSignal.timeout(30_000);
  try {
    while (!said.includes(`listening on port ${port}`)) {
      if (deadline.aborted) throw new Error(`server-everything did not listen: ${said}`);
      const { done, value } = await reader.read();
      if (done) throw new Error(`server-everything ended: ${said}`);
      said += value;
    }
  } catch (error) {
    await reader.cancel();
    await stop();
    throw error;
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async [Symbol.asyncDispose]() {
      await stop();
      await drained;
    },
  };
}

Deno.test("server-everything over streamable HTTP (type: http): a call runs, is journaled and audited", async () => {
  await using server = await everythingOverHttp();
  await using r = await rig({ servers: { remote: { type: "http", url: server.url } } });
  const p = await r.kernel.spawn({
    image: image([
      call("remote.echo", { message: "over http" }),
      call("remote.get-sum", { a: 2, b: 3 }),
      call("exit", { result: "done" }),
    ], {
      mcp: { remote: ["echo", "get-sum"] },
      capabilities: [{ resource: "mcp:remote/echo", rights: ["call"] }],
    }),
    goal: "echo over http",
  });
  await r.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(r.kernel, p.pid);
  assertEquals(results.map(outcome), ["ok", "EPERM", "ok"]);
  const echo = results[0]!.result as { value: { content: { text: string }[]; object: string } };
  assertEquals(echo.value.content[0]!.text, "Echo: over http");
  assertEquals(r.kernel.object(echo.value.object).type, "tool_result");
  const journal = await r.kernel.journal(p.pid);
  const syscalls = journal.filter((e) => e.kind === "syscall" && e.data["name"] === "mcp.call");
  assertEquals(syscalls.map((e) => e.data["ok"]), [true, false]);
  const audit = await r.kernel.audit({ action: "mcp.call" });
  assertEquals(audit.map((a) => [a.resource, a.decision]), [
    ["mcp:remote/echo", "allow"],
    ["mcp:remote/get-sum", "deny"],
  ]);
});

Deno.test("a stdio server reaches the network only through the kernel's proxy: each connection is decided under the process's net: grants and audited with the server's name", async () => {
  let hits = 0;
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    return new Response("hello from the net");
  });
  const url = `http://127.0.0.1:${target.addr.port}/`;
  try {
    await using r = await rig({ net: true });
    const run = async (capabilities: AgentImageInput["capabilities"]) => {
      const p = await r.kernel.spawn({
        image: image([call("test.fetch", { url }), call("exit", { result: "done" })], {
          mcp: { test: ["fetch"] },
          capabilities: [{ resource: "mcp:test/fetch", rights: ["call"] }, ...capabilities ?? []],
        }),
        goal: "fetch",
      });
      await r.kernel.wait(p.pid, { until: "terminal" });
      const [first] = await toolResults(r.kernel, p.pid);
      if (!first!.result.ok) throw new Error(JSON.stringify(first!.result));
      const v = (first!.result as { value: { content: { text: string }[] } }).value;
      return { pid: p.pid, text: v.content[0]!.text };
    };
    // A grant naming the loopback address: the connection is allowed.
    const allowed = await run([{
      resource: `net:127.0.0.1:${target.addr.port}`,
      rights: ["fetch"],
    }]);
    assertEquals(allowed.text, "200 hello from the net");
    assertEquals(hits, 1);
    // A net grant for another host: the server gets the proxy, which refuses this one.
    const other = await run([{ resource: "net:example.com:443", rights: ["fetch"] }]);
    assertMatch(other.text, /^403 |^error /);
    // No net grant at all: the server has no network.
    const none = await run([]);
    assertMatch(none.text, /^error /);
    assertEquals(hits, 1, "nothing but the allowed connection reached the target");
    const fetches = await r.kernel.audit({ action: "net.fetch" });
    const mine = (pid: string) =>
      fetches.filter((a) => a.pid === pid).map((a) => [
        a.resource,
        a.decision,
        a.callId,
        a.detail["server"],
      ]);
    const resource = `net:127.0.0.1:${target.addr.port}`;
    assertEquals(mine(allowed.pid), [[resource, "allow", "mcp:test", "test"]]);
    assertEquals(mine(other.pid), [[resource, "deny", "mcp:test", "test"]]);
    assertEquals(mine(none.pid), []);
  } finally {
    await target.shutdown();
  }
});
