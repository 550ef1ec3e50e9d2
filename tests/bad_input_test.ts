/**
 * Bad input is refused at the boundary with a typed error, and a refused call
 * changes no state.
 */
import assert from "node:assert/strict";
import type { Kernel } from "../mod.ts";
import { bootKernel, call, runImage, scripted, toolResults } from "./helpers.ts";

/** Everything observable about a kernel's state, for before/after comparison. */
async function snapshot(kernel: Kernel): Promise<unknown> {
  const processes = kernel.list();
  return {
    processes,
    grants: processes.flatMap((p) => kernel.capabilities(p.pid)),
    human: kernel.humanRequests(),
    audit: kernel.auditHead,
    journals: await Promise.all(processes.map((p) => kernel.journal(p.pid))),
  };
}

Deno.test("a bad inline image is refused with the field and what was expected, and nothing is spawned", async () => {
  await using t = await bootKernel();
  const before = await snapshot(t.kernel);
  await assert.rejects(
    t.kernel.spawn({
      image: { id: "Bad Id", name: "x", version: "1", model: { provider: "scripted", steps: [] } },
      goal: "g",
    }),
    (e: { code: string; message: string }) => e.code === "EINVAL" && /id/.test(e.message),
  );
  await assert.rejects(
    t.kernel.spawn({
      image: {
        id: "ok",
        name: "x",
        version: "1",
        model: { provider: "scripted", steps: [] },
        capabilities: [{ resource: "fs:**", rights: "read" as unknown as string[] }],
      },
      goal: "g",
    }),
    (e: { code: string; message: string }) =>
      e.code === "EINVAL" && /capabilities\[0\]\.rights/.test(e.message),
  );
  assert.deepEqual(await snapshot(t.kernel), before);
});

Deno.test("a malformed grant is refused with EINVAL and changes nothing", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({ image: scripted([call("sleep", { ms: 1 })]), goal: "g" });
  await t.kernel.wait(p.pid);
  const before = await snapshot(t.kernel);
  const bad = [
    { resource: "disk:/etc", rights: ["read"] },
    { resource: "fs:**", rights: ["fly"] },
    { resource: "fs:a", rights: [] },
    { resource: "fs:a", rights: ["read"], expiresAt: "yesterday" },
    { resource: "fs:a\u0000b", rights: ["read"] },
    { resource: "fs:a", rights: ["read"], extra: true },
  ];
  for (const spec of bad) {
    await assert.rejects(
      t.kernel.grant(p.pid, spec as never),
      { code: "EINVAL" },
      JSON.stringify(spec),
    );
  }
  await assert.rejects(t.kernel.grant("p_999", { resource: "fs:a", rights: ["read"] }), {
    code: "ENOENT",
  });
  assert.deepEqual(await snapshot(t.kernel), before);
});

Deno.test("a fork asking for more than the parent holds is refused with EPERM naming both sides, and creates nothing", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 10 })], {
      capabilities: [{ resource: "fs:src/**", rights: ["read"], delegable: true }],
    }),
    goal: "parent",
  });
  await t.kernel.wait(p.pid);
  const before = await snapshot(t.kernel);
  await assert.rejects(
    t.kernel.fork(p.pid, {
      goal: "child",
      capabilities: [{ resource: "fs:src/**", rights: ["read", "write"] }],
    }),
    (e: { code: string; message: string }) =>
      e.code === "EPERM" && /write/.test(e.message) && /fs:src\/\*\*/.test(e.message),
  );
  await assert.rejects(
    t.kernel.fork(p.pid, {
      goal: "child",
      capabilities: [{ resource: "fs:**", rights: ["read"] }],
    }),
    { code: "EPERM" },
  );
  assert.deepEqual(await snapshot(t.kernel), before);
  const ok = await t.kernel.fork(p.pid, {
    goal: "child",
    capabilities: [{ resource: "fs:src/lib/**", rights: ["read"] }],
  });
  const [g] = t.kernel.capabilities(ok.pid);
  assert.equal(g?.resource, "fs:src/lib/**");
  assert.equal(g?.parentId, t.kernel.capabilities(p.pid)[0]?.id);
});

Deno.test("an illegal transition throws ESTATE and changes nothing", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({ image: scripted([call("sleep", { ms: 10 })]), goal: "g" });
  await t.kernel.wait(p.pid);
  const before = await snapshot(t.kernel);
  await assert.rejects(t.kernel.signal(p.pid, "resume"), { code: "ESTATE" });
  await assert.rejects(
    t.kernel.signal(p.pid, "explode" as never),
    (e: Error & { code?: string }) => e.code === "EINVAL",
  );
  assert.deepEqual(await snapshot(t.kernel), before);
});

Deno.test("an object of unknown type, or a payload failing its type, is a tool error and stores nothing", async () => {
  await using t = await bootKernel();
  const p = await runImage(
    t.kernel,
    scripted([
      call("create_object", { name: "x", type: "no_such_type", payload: {} }),
      call("create_object", { name: "y", type: "note", payload: { txt: 1 } }),
      call("create_object", { name: "../z", type: "note", payload: { text: "t" } }),
      call("exit", { result: null }),
    ]),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "EINVAL",
    "EINVAL",
    "EINVAL",
    "ok",
  ]);
  assert.match(!results[0]!.result.ok ? results[0]!.result.error.message : "", /no_such_type/);
  assert.deepEqual(t.kernel.listObjects(`proc/${p.pid}`), []);
});

Deno.test("path escapes are refused and each leaves an audit record", async () => {
  await using t = await bootKernel({ files: { "ok.txt": "fine" } });
  const escapes = ["../outside.txt", "/etc/passwd", "a/../../b", "nul\u0000byte", "C:\\windows"];
  const p = await runImage(
    t.kernel,
    scripted([
      ...escapes.map((path) => call("read_text_file", { path })),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:**", rights: ["read"] }],
    }),
  );
  const results = await toolResults(t.kernel, p.pid);
  for (const r of results.slice(0, escapes.length)) {
    assert.equal(r.result.ok, false);
    assert.ok(["EPERM", "EINVAL"].includes(!r.result.ok ? r.result.error.code : ""));
  }
  const denies = (await t.kernel.audit({ pid: p.pid, action: "fs.read" })).filter((a) =>
    a.decision === "deny"
  );
  assert.equal(denies.length, escapes.length);
});

Deno.test("a symlink pointing outside the granted tree is refused by its real path", async () => {
  await using t = await bootKernel({ files: { "secret/key.txt": "k", "pub/a.txt": "a" } });
  await t.fs.symlink("../secret/key.txt", "pub/link.txt");
  const p = await runImage(
    t.kernel,
    scripted([
      call("read_text_file", { path: "pub/link.txt" }),
      call("read_text_file", { path: "pub/a.txt" }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "fs:pub/**", rights: ["read"] }],
    }),
  );
  const results = await toolResults(t.kernel, p.pid);
  assert.deepEqual(results.map((r) => (r.result.ok ? "ok" : r.result.error.code)), [
    "EPERM",
    "ok",
    "ok",
  ]);
  assert.ok(!JSON.stringify(results).includes('"k"'));
});

Deno.test("unknown ids are ENOENT", async () => {
  await using t = await bootKernel();
  assert.throws(() => t.kernel.get("p_42"), { code: "ENOENT" });
  await assert.rejects(t.kernel.answer("h_42", { decision: "approve" }), { code: "ENOENT" });
  await assert.rejects(t.kernel.revoke("g_42"), { code: "ENOENT" });
  assert.throws(() => t.kernel.object("o_42"), { code: "ENOENT" });
  await assert.rejects(t.kernel.spawn({ image: "no-such-image", goal: "g" }), { code: "ENOENT" });
});
