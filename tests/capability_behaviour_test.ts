/**
 * The behaviours the paper's prototype tested, through the kernel's public
 * surface: capabilities decide, tools and names do not.
 */
import assert from "node:assert/strict";
import { bootKernel, call, fileText, runImage, scripted, toolResults } from "./helpers.ts";
import { bodyText } from "../mod.ts";

Deno.test("a tool being visible is not authority: write_text_file without an fs write grant is EPERM and writes nothing", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("write_text_file", { path: "out.txt", text: "x" }),
      call("exit", { result: "done" }),
    ], {
      tools: ["write_text_file", "exit"],
    }),
  );
  assert.equal(p.state, "exited");
  const [write] = await toolResults(t.kernel, p.pid);
  assert.equal(write?.result.ok, false);
  assert.equal(!write?.result.ok && write?.result.error.code, "EPERM");
  assert.equal(await fileText(t.fs, "out.txt"), null);
  const denied = await t.kernel.audit({ pid: p.pid, action: "fs.write" });
  assert.deepEqual(denied.map((r) => [r.decision, r.resource]), [["deny", "fs:out.txt"]]);
});

Deno.test("a name is not a capability: another process's object is EPERM by name and by oid", async () => {
  await using t = await bootKernel();
  const owner = await runImage(
    t.kernel,
    scripted([
      call("create_object", { name: "secret", type: "note", payload: { text: "s3cret" } }),
      call("exit", { result: null }),
    ]),
  );
  const [created] = await toolResults(t.kernel, owner.pid);
  assert.equal(created?.result.ok, true);
  const oid = (created?.result as { value: { oid: string } }).value.oid;
  const thief = await runImage(
    t.kernel,
    scripted([
      call("read_object", { ref: `proc/${owner.pid}/secret` }),
      call("read_object", { ref: oid }),
      call("exit", { result: null }),
    ]),
  );
  const results = await toolResults(t.kernel, thief.pid);
  assert.deepEqual(results.slice(0, 2).map((r) => !r.result.ok && r.result.error.code), [
    "EPERM",
    "EPERM",
  ]);
  assert.ok(!JSON.stringify(results).includes("s3cret"));
});

Deno.test("revocation applies to the next primitive call", async () => {
  await using t = await bootKernel({ files: { "a.txt": "alpha" } });
  const p = await t.kernel.spawn({
    image: scripted([
      call("read_text_file", { path: "a.txt" }),
      call("sleep", { ms: 1000 }),
      call("read_text_file", { path: "a.txt" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:a.txt", rights: ["read"] }],
    }),
    goal: "read twice",
  });
  const parked = await t.kernel.wait(p.pid);
  assert.equal(parked.state, "waiting");
  assert.equal(parked.wait?.kind, "timer");
  const grant = t.kernel.capabilities(p.pid).find((g) => g.resource === "fs:a.txt");
  assert.ok(grant);
  await t.kernel.revoke(grant.id);
  t.clock.advance(1000);
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => r.result.ok), [true, true, false, true]);
  assert.equal(!results[2]!.result.ok && results[2]!.result.error.code, "EPERM");
});

Deno.test("deny overrides a held grant, even a less specific deny over a more specific allow", async () => {
  await using t = await bootKernel({
    files: { "secret/key.txt": "k", "pub/readme.txt": "r", "secret/ok.txt": "o" },
  });
  const p = await runImage(
    t.kernel,
    scripted([
      call("read_text_file", { path: "secret/key.txt" }),
      call("read_text_file", { path: "pub/readme.txt" }),
      call("read_text_file", { path: "secret/ok.txt" }),
      call("exit", { result: null }),
    ], {
      capabilities: [
        { resource: "fs:**", rights: ["read"] },
        { resource: "fs:secret/**", rights: ["read"], effect: "deny" },
        { resource: "fs:secret/ok.txt", rights: ["read"] },
      ],
    }),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "EPERM",
    "ok",
    "EPERM",
    "ok",
  ]);
});

Deno.test("an expired grant denies", async () => {
  await using t = await bootKernel({ files: { "a.txt": "alpha" } });
  const expiresAt = new Date(t.clock.now() + 500).toISOString();
  const p = await t.kernel.spawn({
    image: scripted([
      call("read_text_file", { path: "a.txt" }),
      call("sleep", { ms: 1000 }),
      call("read_text_file", { path: "a.txt" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:a.txt", rights: ["read"], expiresAt }],
    }),
    goal: "read before and after expiry",
  });
  await t.kernel.wait(p.pid);
  t.clock.advance(1000);
  await t.kernel.wait(p.pid, { until: "terminal" });
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "ok",
    "ok",
    "EPERM",
    "ok",
  ]);
});

Deno.test("ask parks the process and, once approved, runs the same action without asking the model again", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("write_text_file", { path: "deploy/config.txt", text: "v=2\n" }),
      call("exit", { result: "deployed" }),
    ], {
      capabilities: [{ resource: "fs:deploy/**", rights: ["write"], effect: "ask" }],
    }),
    goal: "deploy",
  });
  const parked = await t.kernel.wait(p.pid);
  assert.equal(parked.state, "waiting");
  assert.equal(parked.wait?.kind, "human");
  assert.equal(await fileText(t.fs, "deploy/config.txt"), null, "nothing written before approval");
  const [request] = t.kernel.humanRequests({ state: "pending" });
  assert.ok(request);
  assert.equal(request.kind, "approval");
  assert.match(bodyText(request.preview), /write 4 bytes to deploy\/config\.txt/);
  await t.kernel.answer(request.id, { decision: "approve" });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  assert.equal(done.result, "deployed");
  assert.equal(await fileText(t.fs, "deploy/config.txt"), "v=2\n");
  const journal = await t.kernel.journal(p.pid);
  assert.equal(
    journal.filter((e) => e.kind === "model.response").length,
    2,
    "one model turn per script step, none repeated",
  );
  await assert.rejects(t.kernel.answer(request.id, { decision: "approve" }), { code: "ESTATE" });
});

Deno.test("a denied approval becomes a failed tool result the agent can reason about", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([
      call("write_text_file", { path: "deploy/x", text: "x" }),
      call("exit", { result: "gave up" }),
    ], {
      capabilities: [{ resource: "fs:deploy/**", rights: ["write"], effect: "ask" }],
    }),
    goal: "deploy",
  });
  await t.kernel.wait(p.pid);
  const [request] = t.kernel.humanRequests({ state: "pending" });
  await t.kernel.answer(request!.id, { decision: "deny" });
  const done = await t.kernel.wait(p.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  const [write] = await toolResults(t.kernel, p.pid);
  assert.equal(!write!.result.ok && write!.result.error.code, "EDENIED");
  assert.equal(await fileText(t.fs, "deploy/x"), null);
});

Deno.test("fork does not inherit write: the child gets only the grants it is given", async () => {
  await using t = await bootKernel({ files: { "src/a.ts": "a" } });
  const child = [
    call("read_text_file", { path: "src/a.ts" }),
    call("write_text_file", { path: "src/a.ts", text: "pwned" }),
    call("exit", { result: "child done" }),
  ];
  const p = await runImage(
    t.kernel,
    scripted([
      call("fork_process", {
        goal: "read only",
        capabilities: [{ resource: "fs:src/**", rights: ["read"] }],
      }),
      call("wait_process", { pid: { $ref: "steps[0].result.value.pid" } }),
      call("exit", { result: "parent done" }),
    ], {
      capabilities: [{ resource: "fs:src/**", rights: ["read", "write"], delegable: true }, {
        resource: "proc",
        rights: ["fork"],
      }],
      forked: child,
    }),
  );
  assert.equal(p.state, "exited");
  const [forked, waited] = await toolResults(t.kernel, p.pid);
  assert.equal(forked?.result.ok, true);
  const childPid = (forked!.result as { value: { pid: string } }).value.pid;
  assert.deepEqual((waited!.result as { value: unknown }).value, {
    pid: childPid,
    state: "exited",
    result: "child done",
    reason: "exit",
  });
  const results = await toolResults(t.kernel, childPid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "ok",
    "EPERM",
    "ok",
  ]);
  assert.equal(await fileText(t.fs, "src/a.ts"), "a");
});

Deno.test("a child cannot receive more than its parent holds; the refused spawn creates nothing", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("spawn_process", {
        goal: "escalate",
        capabilities: [{ resource: "fs:**", rights: ["read", "write"] }],
      }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:**", rights: ["read"], delegable: true }, {
        resource: "proc",
        rights: ["spawn"],
      }],
    }),
  );
  const [spawned] = await toolResults(t.kernel, p.pid);
  assert.equal(!spawned!.result.ok && spawned!.result.error.code, "EPERM");
  assert.match(!spawned!.result.ok ? spawned!.result.error.message : "", /fs:\*\*/);
  assert.deepEqual(t.kernel.list({ parent: p.pid }), []);
  assert.equal(t.kernel.get(p.pid).usage.children, 0);
});

Deno.test("delete is not write", async () => {
  await using t = await bootKernel({ files: { "x.txt": "keep me" } });
  const p = await runImage(
    t.kernel,
    scripted([call("delete_file", { path: "x.txt" }), call("exit", { result: null })], {
      capabilities: [{ resource: "fs:x.txt", rights: ["write", "read"] }],
    }),
  );
  const [del] = await toolResults(t.kernel, p.pid);
  assert.equal(!del!.result.ok && del!.result.error.code, "EPERM");
  assert.equal(await fileText(t.fs, "x.txt"), "keep me");
});

Deno.test("each process has its own working directory", async () => {
  await using t = await bootKernel({ files: { "f.txt": "root", "a/f.txt": "in a" } });
  const caps = [{ resource: "fs:**", rights: ["read"] }];
  const inA = await runImage(
    t.kernel,
    scripted([
      call("set_cwd", { path: "a" }),
      call("read_text_file", { path: "f.txt" }),
      call("get_cwd"),
      call("exit", { result: null }),
    ], { capabilities: caps }),
  );
  const atRoot = await runImage(
    t.kernel,
    scripted([call("read_text_file", { path: "f.txt" }), call("exit", { result: null })], {
      capabilities: caps,
    }),
  );
  const a = await toolResults(t.kernel, inA.pid);
  const r = await toolResults(t.kernel, atRoot.pid);
  assert.deepEqual((a[1]!.result as { value: unknown }).value, { text: "in a" });
  assert.deepEqual((a[2]!.result as { value: unknown }).value, { cwd: "a" });
  assert.deepEqual((r[0]!.result as { value: unknown }).value, { text: "root" });
  assert.equal(t.kernel.get(inA.pid).cwd, "a");
});

Deno.test("set_cwd refuses to leave the workspace", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("set_cwd", { path: "../.." }),
      call("set_cwd", { path: "/etc" }),
      call("exit", { result: null }),
    ]),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((x) => x.result.ok), [false, false, true]);
  assert.equal(t.kernel.get(p.pid).cwd, "");
});

Deno.test("no existence leak: without a grant, a present and an absent file fail alike and the filesystem is not touched", async () => {
  await using t = await bootKernel({ files: { "here.txt": "x" } });
  let touched = 0;
  for (const m of ["stat", "readBytes", "realPath", "list"] as const) {
    const original = t.fs[m].bind(t.fs) as (...a: unknown[]) => unknown;
    (t.fs as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      touched++;
      return original(...a);
    };
  }
  const p = await runImage(
    t.kernel,
    scripted([
      call("read_text_file", { path: "here.txt" }),
      call("read_text_file", { path: "absent.txt" }),
      call("exit", { result: null }),
    ]),
  );
  const [present, absent] = await toolResults(t.kernel, p.pid);
  assert.equal(touched, 0);
  const msg = (
    r: typeof present,
  ) => (!r!.result.ok ? r!.result.error.message.replace(/here|absent/, "X") : "");
  assert.equal(!present!.result.ok && present!.result.error.code, "EPERM");
  assert.equal(!absent!.result.ok && absent!.result.error.code, "EPERM");
  assert.equal(msg(present), msg(absent));
});

Deno.test("a one-time grant is spent exactly once", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("write_text_file", { path: "once.txt", text: "1" }),
      call("write_text_file", { path: "once.txt", text: "2" }),
      call("exit", { result: null }),
    ], { capabilities: [{ resource: "fs:once.txt", rights: ["write"], uses: 1 }] }),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "ok",
    "EPERM",
    "ok",
  ]);
  assert.equal(await fileText(t.fs, "once.txt"), "1");
  assert.equal(t.kernel.capabilities(p.pid)[0]?.uses, 0);
});

Deno.test("namespaces isolate processes' objects", async () => {
  await using t = await bootKernel();
  const make = (text: string) =>
    scripted([
      call("create_object", { name: "notes", type: "note", payload: { text } }),
      call("list_objects", {}),
      call("list_objects", { namespace: "proc/p_1" }),
      call("exit", { result: null }),
    ]);
  const a = await runImage(t.kernel, make("from a"));
  const b = await runImage(t.kernel, make("from b"));
  assert.equal(a.pid, "p_1");
  const ra = await toolResults(t.kernel, a.pid);
  const rb = await toolResults(t.kernel, b.pid);
  assert.equal(ra[0]!.result.ok && rb[0]!.result.ok, true, "the same name in two namespaces");
  const names = (r: (typeof rb)[number]) =>
    (r.result as { value: { objects: { namespace: string }[] } }).value.objects.map((o) =>
      o.namespace
    );
  assert.deepEqual(names(rb[1]!), [`proc/${b.pid}`]);
  assert.equal(!rb[2]!.result.ok && rb[2]!.result.error.code, "EPERM");
  assert.deepEqual(names(ra[2]!), ["proc/p_1"]);
  assert.deepEqual(t.kernel.listObjects(`proc/${a.pid}`).map((o) => o.payload), [{
    text: "from a",
  }]);
});
