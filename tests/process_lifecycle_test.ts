/**
 * Processes: lifecycle, signals and descendants, wait, exec, budgets, the
 * scheduler and the step loop.
 */
import assert from "node:assert/strict";
import type { ContextMessage, ModelProvider, ModelRequest, ModelResponse } from "../mod.ts";
import { bootKernel, call, outcome, runImage, scripted, toolResults } from "./helpers.ts";

Deno.test("exit keeps the result; a terminal process refuses further transitions with ESTATE", async () => {
  await using t = await bootKernel();
  const p = await runImage(t.kernel, scripted([call("exit", { result: { answer: 42 } })]));
  assert.equal(p.state, "exited");
  assert.deepEqual(p.result, { answer: 42 });
  await assert.rejects(t.kernel.signal(p.pid, "resume"), { code: "ESTATE" });
  await assert.rejects(t.kernel.signal(p.pid, "kill"), { code: "ESTATE" });
  assert.equal(t.kernel.get(p.pid).state, "exited", "a refused signal changes nothing");
});

Deno.test("a script that runs out fails the process with a reason", async () => {
  await using t = await bootKernel();
  const p = await runImage(t.kernel, scripted([call("now")]));
  assert.equal(p.state, "failed");
  assert.match(p.reason ?? "", /script ran out after 1 steps/);
});

Deno.test("an unknown tool and arguments failing the schema come back to the model as tool errors", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("no_such_tool", {}),
      call("read_text_file", { path: 7 }),
      call("exit", { result: "fine" }),
    ], {
      tools: ["read_text_file", "exit"],
    }),
  );
  assert.equal(p.state, "exited");
  const [unknown, bad] = await toolResults(t.kernel, p.pid);
  assert.equal(!unknown!.result.ok && unknown!.result.error.code, "ENOENT");
  assert.equal(!bad!.result.ok && bad!.result.error.code, "EINVAL");
  assert.match(!bad!.result.ok ? bad!.result.error.message : "", /path/);
});

Deno.test("a tool outside the process's table is refused even if it is a primitive tool", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([call("now"), call("exit", { result: null })], { tools: ["exit"] }),
  );
  const [now] = await toolResults(t.kernel, p.pid);
  assert.equal(!now!.result.ok && now!.result.error.code, "ENOENT");
});

class SpyModel implements ModelProvider {
  readonly name = "spy";
  seen: { tools: string[]; messages: readonly ContextMessage[] }[] = [];
  complete(request: ModelRequest): Promise<ModelResponse> {
    this.seen.push({ tools: request.tools.map((t) => t.name), messages: [...request.messages] });
    const calls = request.turn === 0 ? [{ name: "now", args: {} }] : [];
    return Promise.resolve({
      text: request.turn === 0 ? null : "all done",
      calls,
      usage: { inputTokens: 10, outputTokens: 5 },
      stop: calls.length > 0 ? "tool_calls" : "end",
    });
  }
}

Deno.test("the model sees only its table's tools with JSON Schemas, needs a model grant, and a final answer ends the process", async () => {
  const spy = new SpyModel();
  await using t = await bootKernel({ models: [spy] });
  const image = {
    id: "spy-agent",
    name: "spy",
    version: "1",
    model: { provider: "spy", name: "m1" },
    tools: ["now", "exit"],
  };
  const denied = await runImage(t.kernel, image);
  assert.equal(denied.state, "failed");
  assert.match(denied.reason ?? "", /model:spy\/m1/);
  assert.equal(spy.seen.length, 0, "no call without a grant");
  const p = await t.kernel.spawn({
    image: "spy-agent",
    goal: "tell the time",
    capabilities: [{ resource: "model:spy/*", rights: ["call"] }],
  });
  const done = await t.kernel.wait(p.pid);
  assert.equal(done.state, "exited");
  assert.deepEqual(done.result, { text: "all done" });
  assert.deepEqual(spy.seen[0]!.tools, ["now", "exit"]);
  assert.equal(spy.seen[1]!.messages.at(-1)?.role, "tool");
  assert.equal(done.usage.tokens, 30);
});

Deno.test("wait: the parent waits on its child and wakes with its result", async () => {
  await using t = await bootKernel();
  await t.kernel.registerImage(
    scripted([call("sleep", { ms: 100 }), call("exit", { result: "child result" })], {
      id: "child",
    }),
  );
  const p = await t.kernel.spawn({
    image: scripted([
      call("spawn_process", { goal: "work", image: "child" }),
      call("wait_process", { pid: { $ref: "steps[0].result.value.pid" } }),
      call("exit", { result: { $ref: "steps[1].result.value.result" } }),
    ], { capabilities: [{ resource: "proc", rights: ["spawn"] }] }),
    goal: "delegate",
  });
  const parked = await t.kernel.wait(p.pid);
  assert.equal(parked.state, "waiting");
  assert.equal(parked.wait?.kind, "child");
  const [child] = t.kernel.list({ parent: p.pid });
  assert.equal(child?.state, "waiting");
  assert.deepEqual(child?.lineage, [p.pid]);
  t.clock.advance(100);
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  assert.equal(done.result, "child result");
});

Deno.test("signals: pause suspends the subtree, resume restores it, kill ends every descendant", async () => {
  await using t = await bootKernel();
  await t.kernel.registerImage(
    scripted([call("sleep", { ms: 1000 }), call("exit", { result: "late" })], { id: "sleeper" }),
  );
  const root = await t.kernel.spawn({
    image: scripted([
      call("spawn_process", { goal: "a", image: "sleeper" }),
      call("wait_process", { pid: { $ref: "steps[0].result.value.pid" } }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "proc", rights: ["spawn"] }] }),
    goal: "tree",
  });
  await t.kernel.idle();
  const [child] = t.kernel.list({ parent: root.pid });
  assert.ok(child);
  await t.kernel.signal(root.pid, "pause");
  assert.equal(t.kernel.get(root.pid).state, "suspended");
  assert.equal(t.kernel.get(child.pid).state, "suspended");
  t.clock.advance(2000);
  await t.kernel.idle();
  assert.equal(
    t.kernel.get(child.pid).state,
    "suspended",
    "a suspended process does not run when its timer fires",
  );
  await assert.rejects(t.kernel.signal(root.pid, "pause"), { code: "ESTATE" });
  await t.kernel.signal(root.pid, "resume");
  const done = await t.kernel.wait(child.pid, { until: "terminal" });
  assert.equal(done.state, "exited", "its timer passed while suspended: it wakes on resume");
  assert.equal((await t.kernel.wait(root.pid, { until: "terminal" })).state, "exited");

  const root2 = await t.kernel.spawn({
    image: scripted([
      call("spawn_process", { goal: "b", image: "sleeper" }),
      call("wait_process", { pid: { $ref: "steps[0].result.value.pid" } }),
    ], { capabilities: [{ resource: "proc", rights: ["spawn"] }] }),
    goal: "tree 2",
  });
  await t.kernel.idle();
  const [child2] = t.kernel.list({ parent: root2.pid });
  await t.kernel.signal(root2.pid, "kill");
  assert.equal(t.kernel.get(root2.pid).state, "killed");
  assert.equal(t.kernel.get(child2!.pid).state, "killed");
  assert.match(t.kernel.get(child2!.pid).reason ?? "", /ancestor p_/);
});

Deno.test("exec replaces the image and never adds the new image's capabilities", async () => {
  await using t = await bootKernel({ files: { "a.txt": "a" } });
  await t.kernel.registerImage(
    scripted([call("read_text_file", { path: "a.txt" }), call("exit", { result: "exec'd" })], {
      id: "greedy",
      capabilities: [{ resource: "fs:**", rights: ["read"] }],
    }),
  );
  const p = await t.kernel.spawn({ image: scripted([call("sleep", { ms: 10 })]), goal: "x" });
  await t.kernel.wait(p.pid);
  await t.kernel.exec(p.pid, "greedy");
  t.clock.advance(10);
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.imageId, "greedy");
  assert.equal(done.state, "exited");
  assert.deepEqual(t.kernel.capabilities(p.pid), []);
  const results = await toolResults(t.kernel, p.pid);
  assert.equal(outcome(results.at(-2)), "EPERM");
});

Deno.test("budgets end a process with a clear terminal state and reason", async () => {
  await using t = await bootKernel();
  const loop = Array.from({ length: 10 }, () => call("now"));
  const steps = await runImage(t.kernel, scripted(loop, { budgets: { steps: 3 } }));
  assert.equal(steps.state, "failed");
  assert.equal(steps.reason, "budget: steps (3) spent");
  assert.equal(steps.usage.steps, 3);
  const calls = await runImage(
    t.kernel,
    scripted([{ calls: [call("now"), call("now"), call("now")] }], { budgets: { toolCalls: 2 } }),
  );
  assert.equal(calls.reason, "budget: tool calls (2) spent");
  const wall = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 5000 }), call("now"), call("exit", { result: null })], {
      budgets: { wallTimeMs: 1000 },
    }),
    goal: "slow",
  });
  await t.kernel.wait(wall.pid);
  t.clock.advance(5000);
  const ended = await t.kernel.wait(wall.pid, { until: "terminal" });
  assert.equal(ended.reason, "budget: wall time (1000 ms) spent");
  const kids = await runImage(
    t.kernel,
    scripted([
      call("spawn_process", { goal: "1" }),
      call("spawn_process", { goal: "2" }),
      call("exit", { result: null }),
    ], {
      budgets: { children: 1 },
      capabilities: [{ resource: "proc", rights: ["spawn"] }],
    }),
  );
  const [first, second] = await toolResults(t.kernel, kids.pid);
  assert.equal(first!.result.ok, true);
  assert.equal(!second!.result.ok && second!.result.error.code, "EBUDGET");
});

Deno.test("the scheduler interleaves processes round-robin; a sleeping process blocks no one", async () => {
  await using t = await bootKernel({ concurrency: 2, autostart: false });
  const order: string[] = [];
  using _ = t.kernel.subscribe((e) => {
    if (e.type === "process" && e.state === "running") order.push(e.pid);
  });
  const sleeper = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 60_000 }), call("exit", { result: null })]),
    goal: "sleep",
  });
  const workers = [];
  for (let i = 0; i < 3; i++) {
    workers.push(
      await t.kernel.spawn({
        image: scripted([call("now"), call("now"), call("now"), call("exit", { result: i })]),
        goal: `w${i}`,
      }),
    );
  }
  t.kernel.start();
  for (const w of workers) assert.equal((await t.kernel.wait(w.pid)).state, "exited");
  assert.equal(t.kernel.get(sleeper.pid).state, "waiting");
  const workerOrder = order.filter((pid) => pid !== sleeper.pid);
  assert.equal(workerOrder.length, 12, "4 quanta each");
  // Round robin: every window of three consecutive quanta serves three different workers.
  for (let i = 0; i + 3 <= workerOrder.length; i += 3) {
    assert.equal(
      new Set(workerOrder.slice(i, i + 3)).size,
      3,
      `round ${i / 3}: ${workerOrder.join(" ")}`,
    );
  }
  t.clock.advance(60_000);
  assert.equal((await t.kernel.wait(sleeper.pid, { until: "terminal" })).state, "exited");
});

Deno.test("the concurrency limit bounds quanta running at once", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const gate: (() => void)[] = [];
  const slow: ModelProvider = {
    name: "slow",
    async complete(req) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise<void>((r) => gate.push(r));
      inFlight--;
      return {
        text: "ok",
        calls: req.turn === 0 ? [{ name: "exit", args: { result: null } }] : [],
        usage: { inputTokens: 0, outputTokens: 0 },
        stop: "tool_calls",
      };
    },
  };
  await using t = await bootKernel({ concurrency: 3, models: [slow] });
  const image = {
    id: "slow",
    name: "slow",
    version: "1",
    model: { provider: "slow", name: "x" },
    tools: ["exit"],
    capabilities: [{ resource: "model:slow/x", rights: ["call"] }],
  };
  await t.kernel.registerImage(image);
  const pids = [];
  for (let i = 0; i < 8; i++) {
    pids.push((await t.kernel.spawn({ image: "slow", goal: `${i}` })).pid);
  }
  let released = 0;
  for (let spins = 0; released < 8 && spins < 10_000; spins++) {
    await new Promise((r) => setTimeout(r, 0));
    const g = gate.shift();
    if (g !== undefined) {
      g();
      released++;
    }
  }
  for (const pid of pids) assert.equal((await t.kernel.wait(pid)).state, "exited");
  assert.equal(maxInFlight, 3);
});
