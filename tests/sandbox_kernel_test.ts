/**
 * The kernel with the real sandbox: tools-folder tools run in isolate hosts
 * and reach the world only through the kernel's primitives.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SandboxTools } from "../sandbox/mod.ts";
import { bootKernel, call, outcome, scripted, toolResults } from "./helpers.ts";

Deno.test("built-in tools run in the sandbox through the primitives: count_lines, parse_log", async () => {
  await using tools = await SandboxTools.create();
  await using t = await bootKernel({
    toolHost: tools,
    files: { "notes.txt": "a\nb\nc", "secret.txt": "s" },
  });
  const p = await t.kernel.spawn({
    image: scripted([
      call("count_lines", { path: "notes.txt" }),
      call("count_lines", { path: "secret.txt" }),
      call("create_object", {
        name: "log",
        type: "log",
        payload: { lines: ["ok a", "FAIL b", "ok c"] },
      }),
      call("parse_log", { ref: "log" }),
      call("exit", { result: null }),
    ], { tools: ["*"], capabilities: [{ resource: "fs:notes.txt", rights: ["read"] }] }),
    goal: "count",
  });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited", done.reason ?? "");
  const r = await toolResults(t.kernel, p.pid);
  assert.deepEqual(r[0]!.result, { ok: true, value: { lines: 3 } });
  assert.equal(outcome(r[1]), "EPERM", "a tool has no authority of its own");
  assert.deepEqual(r[3]!.result, {
    ok: true,
    value: { ok: 2, fail: 1, other: 0, failures: ["FAIL b"] },
  });
  const reads = await t.kernel.audit({ pid: p.pid, action: "fs.read" });
  assert.deepEqual(reads.map((a) => a.decision), ["allow", "deny"]);
  // Well-behaved tools (zod included) touch nothing the isolate blocks: no sandbox records at all.
  const sandbox = (await t.kernel.audit({ limit: 10_000 })).filter((a) =>
    a.actor === "kernel:sandbox"
  );
  assert.deepEqual(sandbox, []);
  const starts = (await t.kernel.journal(p.pid)).filter((e) => e.kind === "tool.start");
  assert.ok(
    starts.every((e) =>
      typeof e.data["hash"] === "string" && (e.data["hash"] as string).startsWith("sha256:")
    ),
  );
});

Deno.test("a user tool folder: a changed file is described again and the journal records the hash that ran", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-tools-" });
  try {
    const file = join(dir, "greet.ts");
    const source = (word: string) =>
      `import { defineTool, z } from "libos/tool";\nexport default defineTool({ name: "greet", description: "greets", input: z.object({}), output: z.object({ word: z.string() }), run() { return Promise.resolve({ word: "${word}" }); } });\n`;
    await Deno.writeTextFile(file, source("hello"));
    await Deno.writeTextFile(join(dir, "broken.ts"), "export default 42;\n");
    await using tools = await SandboxTools.create({ dirs: [dir], builtins: false });
    assert.deepEqual(tools.names(), ["greet"]);
    assert.deepEqual(tools.broken.map((b) => b.file), [join(dir, "broken.ts")]);
    await using t = await bootKernel({ toolHost: tools });
    const p = await t.kernel.spawn({
      image: scripted([
        call("greet", {}),
        call("sleep", { ms: 10 }),
        call("greet", {}),
        call("exit", { result: null }),
      ], { tools: ["greet", "sleep", "exit"] }),
      goal: "g",
    });
    await t.kernel.wait(p.pid);
    await Deno.writeTextFile(file, source("bonjour"));
    t.clock.advance(10);
    await t.kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(t.kernel, p.pid);
    assert.deepEqual([r[0]!.result, r[2]!.result], [{ ok: true, value: { word: "hello" } }, {
      ok: true,
      value: { word: "bonjour" },
    }]);
    const hashes = (await t.kernel.journal(p.pid)).filter((e) => e.kind === "tool.start").map((e) =>
      e.data["hash"]
    );
    assert.equal(new Set(hashes).size, 2, "two contents ran, two hashes journaled");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the kernel audits a tool file the scan refused, and each attempt a tool's isolate blocked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-tools-" });
  try {
    await Deno.writeTextFile(
      join(dir, "loader.ts"),
      `import { defineTool, z } from "libos/tool";\nexport default defineTool({ name: "loader", description: "d", input: z.object({}), output: z.object({}), async run() { await import("data:text/javascript,export default 1"); return {}; } });\n`,
    );
    await Deno.writeTextFile(
      join(dir, "peek.ts"),
      `import { defineTool, z } from "libos/tool";\nexport default defineTool({ name: "peek", description: "d", input: z.object({}), output: z.object({ home: z.string() }), run() { try { return Promise.resolve({ home: String(Deno.env.get("HOME")) }); } catch (e) { return Promise.resolve({ home: String(e).slice(0, 9) }); } } });\n`,
    );
    await using tools = await SandboxTools.create({ dirs: [dir], builtins: false });
    assert.deepEqual(tools.names(), ["peek"]);
    await using t = await bootKernel({ toolHost: tools });
    const refused = await t.kernel.audit({ action: "tool.refuse" });
    assert.deepEqual(
      refused.map((a) => [a.pid, a.decision, a.resource, a.actor]),
      [[null, "deny", `tool:${join(dir, "loader.ts")}`, "kernel:sandbox"]],
    );
    assert.match(String(refused[0]!.detail["reason"]), /line 2, column \d+: Cannot use import\(\)/);
    const p = await t.kernel.spawn({
      image: scripted([call("peek", {}), call("exit", { result: null })], {
        tools: ["peek", "exit"],
      }),
      goal: "g",
    });
    await t.kernel.wait(p.pid, { until: "terminal" });
    const r = await toolResults(t.kernel, p.pid);
    assert.deepEqual(r[0]!.result, { ok: true, value: { home: "NotCapabl" } });
    const callId = (await t.kernel.journal(p.pid)).find((e) => e.kind === "tool.end")?.callId;
    const denied = await t.kernel.audit({ pid: p.pid, action: "sandbox.deny" });
    assert.deepEqual(
      denied.map((a) => [a.decision, a.resource, a.detail["api"], a.callId === callId]),
      [["deny", "isolate:env", "Deno.env.get", true]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
