/**
 * Object memory (versions, links, provenance, quotas, sharing with a fork),
 * the file↔object bridges, and the human queue's question and permission
 * requests.
 */
import assert from "node:assert/strict";
import { bootKernel, call, fileText, runImage, scripted, toolResults } from "./helpers.ts";
import { bodyText } from "../mod.ts";

Deno.test("objects: every write is a new version with provenance; links are typed; old versions stay readable", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("create_object", { name: "plan", type: "plan", payload: { steps: [{ title: "a" }] } }),
      call("write_object", { ref: "plan", payload: { steps: [{ title: "a", done: true }] } }),
      call("create_object", { name: "why", type: "note", payload: { text: "because" } }),
      call("read_object", { ref: "plan" }),
      call("exit", { result: null }),
    ]),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.ok(results.every((r) => r.result.ok), JSON.stringify(results));
  const plan = t.kernel.listObjects(`proc/${p.pid}`).find((o) => o.name === "plan")!;
  assert.equal(plan.version, 2);
  assert.deepEqual(plan.provenance, { pid: p.pid, step: 2 });
  const versions = await t.kernel.store.readObjectVersions(plan.oid);
  assert.deepEqual(versions.map((v) => v.version), [1, 2]);
  assert.deepEqual(versions[0]!.payload, { steps: [{ title: "a" }] });
});

Deno.test("a fork reads exactly the objects it is given, read-only", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("create_object", { name: "log", type: "log", payload: { lines: ["error: disk full"] } }),
      call("create_object", {
        name: "private",
        type: "note",
        payload: { text: "not for the child" },
      }),
      call("fork_process", { goal: "parse the log", objects: ["log"] }),
      call("wait_process", { pid: { $ref: "steps[2].result.value.pid" } }),
      call("exit", { result: { $ref: "steps[3].result.value.result" } }),
    ], {
      capabilities: [{ resource: "proc", rights: ["fork"] }],
      forked: [
        call("read_object", { ref: "proc/p_1/log" }),
        call("write_object", { ref: "proc/p_1/log", payload: { lines: [] } }),
        call("read_object", { ref: "proc/p_1/private" }),
        call("exit", { result: { $ref: "steps[0].result.value.payload.lines" } }),
      ],
    }),
  );
  assert.equal(p.pid, "p_1");
  assert.deepEqual(p.result, ["error: disk full"]);
  const [child] = t.kernel.list({ parent: p.pid });
  const results = await toolResults(t.kernel, child!.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "ok",
    "EPERM",
    "EPERM",
    "ok",
  ]);
});

Deno.test("file_to_object and object_to_file move content without it entering the conversation", async () => {
  const big = "line\n".repeat(1000);
  await using t = await bootKernel({ files: { "logs/app.log": big } });
  const p = await runImage(
    t.kernel,
    scripted([
      call("file_to_object", { path: "logs/app.log", name: "applog" }),
      call("object_to_file", { ref: "applog", path: "copy/app.log" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:logs/**", rights: ["read"] }, {
        resource: "fs:copy/**",
        rights: ["write"],
      }],
    }),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.ok(results.every((r) => r.result.ok), JSON.stringify(results));
  const journal = JSON.stringify(await t.kernel.journal(p.pid));
  assert.ok(!journal.includes("line\\nline"), "the file content is not in the journal");
  assert.equal(await fileText(t.fs, "copy/app.log"), big);
  const snap = t.kernel.listObjects(`proc/${p.pid}`)[0]!;
  assert.equal(snap.type, "file_snapshot");
  assert.equal((snap.payload as { size: number }).size, big.length);
});

Deno.test("object quotas refuse an oversized object with EQUOTA", async () => {
  await using t = await bootKernel({
    objectQuotas: { maxObjectBytes: 100, maxNamespaceObjects: 2 },
  });
  const p = await runImage(
    t.kernel,
    scripted([
      call("create_object", { name: "big", type: "note", payload: { text: "x".repeat(200) } }),
      call("create_object", { name: "a", type: "note", payload: { text: "a" } }),
      call("create_object", { name: "b", type: "note", payload: { text: "b" } }),
      call("create_object", { name: "c", type: "note", payload: { text: "c" } }),
      call("exit", { result: null }),
    ]),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "EQUOTA",
    "ok",
    "ok",
    "EQUOTA",
    "ok",
  ]);
});

Deno.test("ask_human parks the process until a human answers; the answer is the tool result", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("ask_human", { question: "Which branch?" }),
      call("exit", { result: { $ref: "steps[0].result.value.answer" } }),
    ], {
      capabilities: [{ resource: "human:operator", rights: ["ask"] }],
    }),
    goal: "ask",
  });
  assert.equal((await t.kernel.wait(p.pid)).state, "waiting");
  const [q] = t.kernel.humanRequests({ state: "pending" });
  assert.equal(q?.kind, "question");
  await assert.rejects(
    t.kernel.answer(q!.id, { decision: "approve" }),
    (e: Error & { code?: string }) => e.code === "EINVAL",
  );
  await t.kernel.answer(q!.id, { decision: "answer", answer: "main" });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.result, "main");
});

Deno.test("request_permission: approved once grants a one-use capability; the preview is escaped", async () => {
  await using t = await bootKernel({ files: { "data.csv": "a,b" } });
  const p = await t.kernel.spawn({
    image: scripted([
      call("request_permission", {
        resource: "fs:data.csv",
        rights: ["read"],
        reason: "need \u001b[31mdata\u202e",
      }),
      call("read_text_file", { path: "data.csv" }),
      call("read_text_file", { path: "data.csv" }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "human:operator", rights: ["ask"] }] }),
    goal: "read data",
  });
  await t.kernel.wait(p.pid);
  const [r] = t.kernel.humanRequests({ state: "pending" });
  assert.equal(r?.kind, "permission");
  const shown = bodyText(r!.preview);
  assert.ok(!shown.includes("\u001b") && !shown.includes("\u202e"), shown);
  await t.kernel.answer(r!.id, { decision: "approve", scope: "once" });
  await t.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((x) => (x.result.ok ? "ok" : x.result.error.code)), [
    "ok",
    "ok",
    "EPERM",
    "ok",
  ]);
});

Deno.test("an approval expires: the process gets EEXPIRED and goes on", async () => {
  await using t = await bootKernel({ humanTtlMs: 60_000 });
  const p = await t.kernel.spawn({
    image: scripted([
      call("write_text_file", { path: "x", text: "x" }),
      call("exit", { result: "after expiry" }),
    ], {
      capabilities: [{ resource: "fs:x", rights: ["write"], effect: "ask" }],
    }),
    goal: "g",
  });
  await t.kernel.wait(p.pid);
  t.clock.advance(60_000);
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  const [w] = await toolResults(t.kernel, p.pid);
  assert.equal(!w!.result.ok && w!.result.error.code, "EEXPIRED");
  assert.equal(t.kernel.humanRequests()[0]?.state, "expired");
});

Deno.test("revoking a grant voids the pending approval that relied on it", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("write_text_file", { path: "x", text: "x" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:x", rights: ["write"], effect: "ask" }],
    }),
    goal: "g",
  });
  await t.kernel.wait(p.pid);
  const [g] = t.kernel.capabilities(p.pid);
  await t.kernel.revoke(g!.id);
  await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(t.kernel.humanRequests()[0]?.state, "void");
  const [w] = await toolResults(t.kernel, p.pid);
  assert.equal(!w!.result.ok && w!.result.error.code, "EPERM");
  assert.equal(await fileText(t.fs, "x"), null);
});

Deno.test("revoke cascades to every grant derived from the revoked one", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 10 })], {
      capabilities: [{ resource: "fs:**", rights: ["read"], delegable: true }],
    }),
    goal: "g",
  });
  await t.kernel.wait(p.pid);
  const child = await t.kernel.fork(p.pid, {
    goal: "c",
    capabilities: [{ resource: "fs:**", rights: ["read"], delegable: true }],
  });
  const grandchild = await t.kernel.fork(child.pid, {
    goal: "gc",
    capabilities: [{ resource: "fs:a/**", rights: ["read"] }],
  });
  const root = t.kernel.capabilities(p.pid)[0]!;
  const revoked = await t.kernel.revoke(root.id);
  assert.equal(revoked.length, 3);
  assert.ok(t.kernel.capabilities(grandchild.pid).every((g) => g.revoked));
});
