/**
 * The syscall engine's promise — every effect exactly once, only under the
 * process's capabilities, across any crash — tested at the seams a review
 * found: each test lands a crash (or a race) exactly where a primitive used
 * to decide, spend or journal in its own way.
 *
 * A crash is a {@linkcode CrashableStore}: from the chosen batch on nothing
 * more is durable, and a new kernel boots on what was.
 */
import assert from "node:assert/strict";
import {
  bodyText,
  type Clock,
  FakeClock,
  Kernel,
  type KernelOptions,
  MemoryFilesystem,
  MemoryStore,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  NetProvider,
  ScriptedModel,
  ShellProvider,
} from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { Batch } from "../runtime/engine/batch.ts";
import type { HostedTool, HostedToolResult, ToolHost } from "../runtime/tool_host.ts";
import { call, outcome, scripted, toolResults } from "./helpers.ts";

/** A shell provider double: counts runs; a run after the crash never returns. */
function fakeShell(store: CrashableStore, workspace: string, onRun: () => void = () => {}) {
  const seen = { runs: 0 };
  const shell = {
    workspace,
    confinement: () => Promise.resolve({ kind: "bubblewrap", notice: "fake" }),
    run: () => {
      if (store.crashed) return new Promise(() => {});
      seen.runs += 1;
      onRun();
      return Promise.resolve({
        code: 0,
        signal: null,
        stdout: new TextEncoder().encode("ran\n"),
        stderr: new Uint8Array(),
        truncated: false,
        timedOut: false,
        confined: true,
      });
    },
  } as unknown as ShellProvider;
  return { shell, seen };
}

async function boot(store: CrashableStore | MemoryStore, options: Partial<KernelOptions> = {}) {
  return await Kernel.create({ store, ...options });
}

Deno.test("a one-time grant is spent before its effect: a crash after the program ran leaves it spent, and the program never runs twice", async () => {
  const store = new CrashableStore(new MemoryStore());
  const fs = new MemoryFilesystem();
  await using dir = await _tempDir();
  const first = fakeShell(store, dir.path, () => store.crash());
  const image = scripted([
    call("run_shell", { argv: ["sh", "-c", "echo once >> log"] }),
    call("run_shell", { argv: ["sh", "-c", "echo once >> log"] }),
    call("exit", { result: "done" }),
  ], {
    capabilities: [
      { resource: "shell:sh", rights: ["exec"], uses: 1 },
      { resource: "fs:**", rights: ["read", "write"] },
    ],
  });
  const k1 = await boot(store, { filesystem: fs, shell: first.shell });
  const { pid } = await k1.spawn({ image, goal: "run once" });
  await _until(() => store.crashed);
  assert.equal(first.seen.runs, 1);
  const second = fakeShell(store, dir.path);
  await using k2 = await boot(store.inner as MemoryStore, { filesystem: fs, shell: second.shell });
  await k2.wait(pid, { until: "terminal" });
  const results = await toolResults(k2, pid);
  assert.deepEqual(results.map(outcome), ["EUNKNOWN", "EPERM", "ok"]);
  assert.equal(second.seen.runs, 0, "the program ran exactly once across the crash");
  const g = k2.capabilities(pid).find((x) => x.resource.startsWith("shell:"));
  assert.equal(g?.uses, 0);
});

Deno.test("fork_process: a crash right after the child is created returns the same child on replay (one fork)", async () => {
  const store = new CrashableStore(new MemoryStore());
  store.crashAt((batch) =>
    batch.some((m) => m.kind === "process.put" && m.process.forkedFrom !== null) ? "after" : null
  );
  const image = scripted([
    call("fork_process", { goal: "child" }),
    call("wait_process", { pid: { $ref: "steps[0].result.value.pid" } }),
    call("exit", { result: "done" }),
  ], {
    forked: [call("exit", { result: "child done" })],
    capabilities: [{ resource: "proc", rights: ["fork"] }],
  });
  const k1 = await boot(store, { autostart: true });
  const { pid } = await k1.spawn({ image, goal: "fork once" });
  await _until(() => store.crashed);
  await using k2 = await boot(store.inner as MemoryStore);
  const done = await k2.wait(pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  const children = k2.list({ parent: pid });
  assert.equal(children.length, 1, `one fork, got ${children.map((c) => c.pid).join(", ")}`);
  const results = await toolResults(k2, pid);
  assert.deepEqual(results.map(outcome), ["ok", "ok", "ok"]);
});

Deno.test("signal_process: a crash right after the kill lands answers the signal from the journal (the kill is not sent twice)", async () => {
  const store = new CrashableStore(new MemoryStore());
  store.crashAt((batch) =>
    batch.some((m) =>
        m.kind === "process.put" && m.process.state === "killed" && m.process.parentPid !== null
      )
      ? "after"
      : null
  );
  const image = scripted([
    call("spawn_process", { goal: "sleeper", image: "sleeper" }),
    call("signal_process", { pid: { $ref: "steps[0].result.value.pid" }, signal: "kill" }),
    call("exit", { result: "done" }),
  ], { capabilities: [{ resource: "proc", rights: ["spawn", "signal"] }] });
  const clock = new FakeClock(0);
  const k1 = await boot(store, { clock, autostart: true });
  await k1.registerImage(scripted([call("sleep", { ms: 60_000 })], { id: "sleeper" }));
  const { pid } = await k1.spawn({ image, goal: "kill a child" });
  await _until(() => store.crashed);
  await using k2 = await boot(store.inner as MemoryStore, { clock });
  await k2.wait(pid, { until: "terminal" });
  const results = await toolResults(k2, pid);
  assert.deepEqual(results.map(outcome), ["ok", "ok", "ok"], JSON.stringify(results));
  const signals = (await k2.audit({ action: "process.killed" })).length;
  assert.equal(signals, 1, "one kill recorded");
});

Deno.test("a model response is durable before its first tool runs: a crash during a long tool call does not call the model again", async () => {
  const store = new CrashableStore(new MemoryStore());
  const counted = _countingModel();
  const tool: HostedTool = {
    name: "long_job",
    description: "takes long",
    inputSchema: { type: "object" },
    path: "/tools/long_job.ts",
    hash: "h1",
  };
  const host = (run: () => Promise<HostedToolResult>): ToolHost => ({
    tool: (name) => name === "long_job" ? tool : undefined,
    names: () => ["long_job"],
    run,
  });
  const image = scripted([call("long_job", {}), call("exit", { result: "done" })], {
    tools: ["long_job", "exit"],
  });
  const k1 = await boot(store, {
    models: [counted.model],
    toolHost: host(() => {
      store.crash();
      return new Promise(() => {});
    }),
  });
  const { pid } = await k1.spawn({ image, goal: "long" });
  await _until(() => store.crashed);
  assert.equal(counted.calls(), 1);
  await using k2 = await boot(store.inner as MemoryStore, {
    models: [counted.model],
    toolHost: host(() => Promise.resolve({ ok: true, value: 42, hash: "h1" })),
  });
  await k2.wait(pid, { until: "terminal" });
  assert.equal(counted.calls(), 2, "turn 0 once, turn 1 once: the model is not called again");
  const responses = (await k2.journal(pid)).filter((e) => e.kind === "model.response");
  assert.equal(responses.length, 2);
});

Deno.test("net:<hostname> grants match the name; a special address still needs a grant naming it", async () => {
  const seen: string[] = [];
  // A network double: asks the kernel exactly as the real provider does
  // (the name first, then every address it resolved to) and answers
  // without touching any network.
  const net = {
    fetch: async (
      req: { url: string },
      options: { authorize: (u: URL, a: { kind: string; address: string | null }) => unknown },
    ) => {
      const url = new URL(req.url);
      await options.authorize(url, { kind: "name", address: null });
      const address = url.hostname === "intranet.test" ? "10.0.0.7" : "93.184.216.34";
      await options.authorize(url, {
        kind: address.startsWith("10.") ? "private" : "public",
        address,
      });
      seen.push(req.url);
      return {
        status: 200,
        headers: {},
        body: new TextEncoder().encode("hi"),
        url: req.url,
        redirects: [],
      };
    },
  } as unknown as NetProvider;
  await using kernel = await Kernel.create({ net });
  const p = await kernel.spawn({
    image: scripted([
      call("fetch_url", { url: "https://example.test/a" }),
      call("fetch_url", { url: "https://intranet.test/b" }),
      call("exit", { result: null }),
    ], {
      capabilities: [
        { resource: "net:example.test", rights: ["fetch"] },
        { resource: "net:*.test", rights: ["fetch"] },
      ],
    }),
    goal: "g",
  });
  await kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(kernel, p.pid);
  assert.deepEqual(results.map(outcome), ["ok", "EPERM", "ok"]);
  assert.deepEqual(seen, ["https://example.test/a"]);
});

Deno.test("fetch_url under an ask grant asks a human, then fetches once", async () => {
  let fetched = 0;
  const net = {
    fetch: async (
      req: { url: string },
      options: { authorize: (u: URL, a: { kind: string; address: string | null }) => unknown },
    ) => {
      const url = new URL(req.url);
      await options.authorize(url, { kind: "name", address: null });
      await options.authorize(url, { kind: "public", address: "93.184.216.34" });
      fetched += 1;
      return { status: 200, headers: {}, body: new Uint8Array(), url: req.url, redirects: [] };
    },
  } as unknown as NetProvider;
  await using kernel = await Kernel.create({ net });
  const p = await kernel.spawn({
    image: scripted([
      call("fetch_url", { url: "https://example.test/a", method: "POST", body: "x" }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "net:example.test", rights: ["fetch"], effect: "ask" }] }),
    goal: "g",
  });
  assert.equal((await kernel.wait(p.pid)).state, "waiting");
  const [r] = kernel.humanRequests({ state: "pending" });
  assert.ok(r, "an approval was asked");
  assert.match(bodyText(r.preview), /example\.test/);
  await kernel.answer(r.id, { decision: "approve" });
  await kernel.wait(p.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(kernel, p.pid)).map(outcome), ["ok", "ok"]);
  assert.equal(fetched, 1);
});

Deno.test("an approved ask on read_text_file reads the file (no ENONDET)", async () => {
  const fs = new MemoryFilesystem();
  await fs.writeBytes("a.txt", new TextEncoder().encode("alpha"), { createParents: true });
  await using kernel = await Kernel.create({ filesystem: fs });
  const p = await kernel.spawn({
    image: scripted([call("read_text_file", { path: "a.txt" }), call("exit", { result: null })], {
      capabilities: [{ resource: "fs:a.txt", rights: ["read"], effect: "ask" }],
    }),
    goal: "g",
  });
  assert.equal((await kernel.wait(p.pid)).state, "waiting");
  const [r] = kernel.humanRequests({ state: "pending" });
  await kernel.answer(r!.id, { decision: "approve" });
  await kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(kernel, p.pid);
  assert.deepEqual(results.map(outcome), ["ok", "ok"], JSON.stringify(results[0]));
  assert.equal((results[0]!.result as { value: { text: string } }).value.text, "alpha");
});

Deno.test("a late answer (after expiresAt, before the expiry timer fired) expires the request durably, audits both, and wakes the process", async () => {
  // A clock whose timers never fire: the expiry timer is always "late".
  let now = 1_000;
  const clock: Clock = {
    now: () => now,
    sleep: () => new Promise(() => {}),
    setTimer: () => ({ [Symbol.dispose]() {} }),
  };
  const store = new MemoryStore();
  const kernel = await Kernel.create({ store, clock, humanTtlMs: 500 });
  const p = await kernel.spawn({
    image: scripted([call("ask_human", { question: "go?" }), call("exit", { result: null })], {
      capabilities: [{ resource: "human:operator", rights: ["ask"] }],
    }),
    goal: "g",
  });
  assert.equal((await kernel.wait(p.pid)).state, "waiting");
  const [r] = kernel.humanRequests({ state: "pending" });
  now = 2_000;
  await assert.rejects(
    kernel.answer(r!.id, { decision: "answer", answer: "yes" }),
    (e: Error & { code?: string }) => e.code === "EEXPIRED",
  );
  await kernel.wait(p.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(kernel, p.pid)).map(outcome), ["EEXPIRED", "ok"]);
  const actions = (await kernel.audit({ pid: p.pid })).map((a) => a.action);
  assert.ok(actions.includes("human.expired"), actions.join(","));
  assert.ok(actions.includes("human.late"), actions.join(","));
  const stored = (await store.load()).human.find((x) => x.id === r!.id);
  assert.equal(stored?.state, "expired", "the store agrees");
  await kernel.close();
});

Deno.test("a spawned child inherits its parent's relative cwd once (sub stays sub)", async () => {
  const fs = new MemoryFilesystem();
  await fs.mkdir("sub", { recursive: true });
  await using kernel = await Kernel.create({ filesystem: fs });
  await kernel.registerImage(scripted([call("exit", { result: null })], { id: "kid" }));
  const p = await kernel.spawn({
    image: scripted([
      call("spawn_process", { goal: "child", image: "kid" }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "proc", rights: ["spawn"] }] }),
    goal: "g",
    cwd: "sub",
  });
  await kernel.wait(p.pid, { until: "terminal" });
  const [child] = kernel.list({ parent: p.pid });
  assert.equal(child?.cwd, "sub");
});

Deno.test("an object id reveals nothing: a missing oid and another namespace's oid fail alike (EPERM)", async () => {
  await using kernel = await Kernel.create();
  const owner = await kernel.spawn({
    image: scripted([
      call("create_object", { name: "secret", type: "note", payload: { text: "s" } }),
      call("sleep", { ms: 100_000_000 }),
    ]),
    goal: "own",
  });
  await kernel.wait(owner.pid);
  const [o] = kernel.listObjects(`proc/${owner.pid}`);
  assert.ok(o);
  const missing = "o_" + "0".repeat(20);
  const p = await kernel.spawn({
    image: scripted([
      call("read_object", { ref: o.oid }),
      call("read_object", { ref: missing }),
      call("exit", { result: null }),
    ]),
    goal: "probe",
  });
  await kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(kernel, p.pid);
  assert.deepEqual(results.map(outcome), ["EPERM", "EPERM", "ok"]);
  const message = (i: number) =>
    (results[i]!.result as { error: { message: string } }).error.message.replace(
      /o_[0-9a-f]+/,
      "X",
    );
  assert.equal(message(0), message(1), "the same words for both");
  await kernel.signal(owner.pid, "kill");
});

Deno.test("a voided approval is audited (revoke)", async () => {
  await using kernel = await Kernel.create();
  const p = await kernel.spawn({
    image: scripted([call("write_text_file", { path: "a.txt", text: "x" })], {
      capabilities: [{ resource: "fs:a.txt", rights: ["write"], effect: "ask" }],
    }),
    goal: "g",
  });
  await kernel.wait(p.pid);
  const [r] = kernel.humanRequests({ state: "pending" });
  const g = kernel.capabilities(p.pid)[0]!;
  await kernel.revoke(g.id);
  assert.equal(kernel.humanRequest(r!.id).state, "void");
  const voided = await kernel.audit({ action: "human.void" });
  assert.equal(voided.length, 1);
  assert.equal((voided[0]!.detail as { request: string }).request, r!.id);
});

Deno.test("restoring a checkpoint never gives spent budget back", async () => {
  await using kernel = await Kernel.create();
  const p = await kernel.spawn({
    image: scripted([
      call("checkpoint", {}),
      call("now", {}),
      call("now", {}),
      call("sleep", { ms: 100_000_000 }),
    ], {
      capabilities: [{ resource: "checkpoint", rights: ["create"] }],
      budgets: { steps: 100 },
    }),
    goal: "g",
  });
  await kernel.wait(p.pid);
  const spent = kernel.get(p.pid).usage;
  const [ck] = await kernel.listCheckpoints(p.pid);
  await kernel.restoreCheckpoint(ck!.id);
  const after = kernel.get(p.pid).usage;
  assert.ok(after.steps >= spent.steps, `steps ${after.steps} < ${spent.steps}`);
  assert.ok(
    after.toolCalls >= spent.toolCalls,
    `tool calls ${after.toolCalls} < ${spent.toolCalls}`,
  );
  await kernel.signal(p.pid, "kill");
});

function _countingModel(): { model: ModelProvider; calls: () => number } {
  const inner = new ScriptedModel();
  let n = 0;
  return {
    model: {
      name: "scripted",
      complete(request: ModelRequest): Promise<ModelResponse> {
        n += 1;
        return inner.complete(request);
      },
    },
    calls: () => n,
  };
}

/** An empty host directory (the fake shell's workspace), removed on dispose. */
async function _tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "libos-engine-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Waits (bounded, in real time) until `ready` holds. */
async function _until(ready: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error("timed out waiting for the crash point");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("ids are never given twice: a kernel after a crash starts right after the ids made durable, whatever order batches that took ids commit in", async () => {
  const store = new MemoryStore();
  const k1 = await Kernel.create({ store, autostart: false });
  const early = new Batch();
  const late = new Batch();
  assert.equal(k1._core.records.nextId("human", "h_", early), "h_1");
  assert.equal(k1._core.records.nextId("human", "h_", late), "h_2");
  await k1._core.records.commit(late);
  await k1._core.records.commit(early); // took its id first, commits last
  // k1 never closes (a crash): on a store of one kernel its unused block is void.
  const k2 = await Kernel.create({ store, autostart: false });
  assert.equal(k2._core.records.nextId("human", "h_", new Batch()), "h_3");
  await k2.close();
});

Deno.test("an approved write interrupted after its intent committed is settled, never asked again", async () => {
  const store = new CrashableStore(new MemoryStore());
  const fs = new MemoryFilesystem();
  const image = scripted([
    call("write_text_file", { path: "deploy/app.conf", text: "port=1\n" }),
    call("exit", { result: "done" }),
  ], { capabilities: [{ resource: "fs:deploy/**", rights: ["write"], effect: "ask" }] });
  const k1 = await boot(store, { filesystem: fs });
  const { pid } = await k1.spawn({ image, goal: "deploy" });
  assert.equal((await k1.wait(pid)).state, "waiting");
  const [r] = k1.humanRequests({ state: "pending" });
  store.crashAt((batch) =>
    batch.some((m) =>
        m.kind === "journal.append" && m.entry.kind === "syscall.intent" &&
        m.entry.data["phase"] === "effect"
      )
      ? "after"
      : null
  );
  await k1.answer(r!.id, { decision: "approve" });
  await _until(() => store.crashed);
  await using k2 = await boot(store.inner as MemoryStore, { filesystem: fs });
  // Settled: ended, or waiting (on a second approval, which must not happen).
  assert.equal((await k2.wait(pid)).state, "exited");
  assert.equal(k2.humanRequests({ pid }).length, 1, "one approval for one write");
  assert.deepEqual((await toolResults(k2, pid)).map(outcome), ["ok", "ok"]);
  assert.equal(new TextDecoder().decode(await fs.readBytes("deploy/app.conf")), "port=1\n");
});
