/**
 * Retention over the HTTP API: under `purge_on_exit` an ended process's
 * journal bodies, namespace objects, human previews and answers, goal and
 * result read as `{purged, sha256, size}`; what is shared, linked or
 * checkpointed is kept; the audit chain still verifies. Crashes around the
 * purge batch (an in-process crashable store) leave all kept or all purged,
 * and an unfinished purge runs at the next boot.
 */
import assert from "node:assert/strict";
import { bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";
import {
  canonicalJson,
  FakeClock,
  Kernel,
  MemoryFilesystem,
  MemoryStore,
  type Mutation,
  sha256Hex,
} from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";

const SECRET = "s3cr3t-body";

/** The purged shape of a value, computed independently of the kernel. */
function digestOf(value: unknown) {
  const bytes = new TextEncoder().encode(canonicalJson(value));
  return { purged: true, sha256: sha256Hex(bytes), size: bytes.length };
}

/** A process that writes two object versions, asks a question, and exits with a result. */
function secretive(retention?: "keep" | "purge_on_exit") {
  return {
    ...scripted([
      call("create_object", { name: "notes", type: "note", payload: { text: `${SECRET}-1` } }),
      call("write_object", { ref: "notes", payload: { text: `${SECRET}-2` } }),
      call("ask_human", { question: `${SECRET} question?` }),
      call("exit", { result: { said: `${SECRET}-result` } }),
    ], { capabilities: [{ resource: "human:operator", rights: ["ask"] }] }),
    ...(retention === undefined ? {} : { retention }),
  };
}

/** Spawns over the API, answers its question over the API, and waits for its end and purge. */
async function runSecretive(t: TestPlane, image: unknown): Promise<{ pid: string; hid: string }> {
  const s = await t.call("/v1/processes", { body: { image, goal: `${SECRET} goal` } });
  assert.equal(s.status, 201, s.text);
  const pid: string = s.json.pid;
  const w = await t.call(`/v1/processes/${pid}/wait?timeoutMs=5000`);
  assert.equal(w.json.process.state, "waiting", w.text);
  const [r] = (await t.call(`/v1/human?pid=${pid}&state=pending`)).json.requests;
  const a = await t.call(`/v1/human/${r.id}`, {
    body: { decision: "answer", answer: `${SECRET} answer`, previewSha256: r.previewSha256 },
  });
  assert.equal(a.status, 200, a.text);
  const end = await t.call(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=5000`);
  assert.equal(end.json.process.state, "exited", end.text);
  await t.kernel.whenPurged(pid);
  return { pid, hid: r.id };
}

Deno.test("purge_on_exit: once a process exits, the API shows {purged, sha256, size} for its goal, result, journal bodies, objects (every version), human preview and answer; the audit chain verifies", async () => {
  await using t = await bootPlane();
  const { pid, hid } = await runSecretive(t, secretive("purge_on_exit"));

  const p = (await t.call(`/v1/processes/${pid}`)).json;
  assert.equal(p.retention, "purge_on_exit");
  assert.equal(typeof p.purgedAt, "number");
  assert.deepEqual(p.goal, digestOf(`${SECRET} goal`));
  assert.deepEqual(p.result, digestOf({ said: `${SECRET}-result` }));

  const journal = await t.call(`/v1/processes/${pid}/journal?limit=1000`);
  assert.equal(journal.status, 200);
  const entries = journal.json.entries as { kind: string; data: Record<string, unknown> }[];
  assert.ok(entries.length > 8, journal.text);
  for (const e of entries) {
    if (e.kind === "lifecycle") {
      assert.ok(typeof e.data["to"] === "string" || "exec" in e.data, JSON.stringify(e));
    } else {
      assert.equal(e.data["purged"], true, JSON.stringify(e));
      assert.match(String(e.data["sha256"]), /^[0-9a-f]{64}$/);
    }
  }
  assert.deepEqual(entries[0]!.data["goal"], digestOf(`${SECRET} goal`));

  const objects = await t.call(`/v1/processes/${pid}/objects`);
  const [notes] = objects.json.objects;
  assert.equal(notes.name, "notes");
  assert.deepEqual(notes.payload, digestOf({ text: `${SECRET}-2` }));
  assert.deepEqual((await t.call(`/v1/objects/${notes.oid}`)).json.payload, notes.payload);
  const versions = await t.kernel.store.readObjectVersions(notes.oid);
  assert.deepEqual(versions.map((v) => v.payload), [
    digestOf({ text: `${SECRET}-1` }),
    digestOf({ text: `${SECRET}-2` }),
  ]);

  const h = (await t.call(`/v1/human/${hid}`)).json;
  assert.deepEqual(h.preview, digestOf(`${SECRET} question?`));
  assert.deepEqual(h.answer, digestOf(`${SECRET} answer`));
  assert.match(h.previewSha256, /^[0-9a-f]{64}$/);

  // Nothing the API says about the process holds the text any more.
  for (
    const path of [
      `/v1/processes/${pid}`,
      `/v1/processes/${pid}/journal?limit=1000`,
      `/v1/processes/${pid}/objects`,
      `/v1/human?pid=${pid}`,
      `/v1/audit?pid=${pid}&limit=1000`,
    ]
  ) {
    const text = (await t.call(path)).text;
    assert.ok(!text.includes(SECRET), `${path} still shows the body: ${text.slice(0, 400)}`);
  }
  const verify = await t.call("/v1/audit/verify");
  assert.equal(verify.json.ok, true, verify.text);
  const purges = (await t.call(`/v1/audit?pid=${pid}&action=process.purge`)).json.records;
  assert.equal(purges.length, 1);
  assert.deepEqual(
    { objects: purges[0].detail.objects, versions: purges[0].detail.versions },
    { objects: 1, versions: 2 },
  );
});

Deno.test("retention: keep (the default) keeps every body; the kernel's purge_on_exit wins over an image's keep", async () => {
  {
    await using t = await bootPlane();
    const { pid, hid } = await runSecretive(t, secretive());
    const p = (await t.call(`/v1/processes/${pid}`)).json;
    assert.deepEqual([p.retention, p.purgedAt, p.goal], ["keep", null, `${SECRET} goal`]);
    assert.ok((await t.call(`/v1/processes/${pid}/journal?limit=1000`)).text.includes(SECRET));
    assert.equal((await t.call(`/v1/human/${hid}`)).json.answer, `${SECRET} answer`);
  }
  {
    await using t = await bootPlane({ retention: "purge_on_exit" });
    const { pid } = await runSecretive(t, secretive("keep"));
    const p = (await t.call(`/v1/processes/${pid}`)).json;
    assert.equal(p.retention, "purge_on_exit");
    assert.ok(!(await t.call(`/v1/processes/${pid}/journal?limit=1000`)).text.includes(SECRET));
  }
});

Deno.test("purge_on_exit: a killed process is purged too; its pending question is voided and purged", async () => {
  await using t = await bootPlane();
  const s = await t.call("/v1/processes", {
    body: { image: secretive("purge_on_exit"), goal: "g" },
  });
  const pid: string = s.json.pid;
  await t.call(`/v1/processes/${pid}/wait?timeoutMs=5000`);
  const k = await t.call(`/v1/processes/${pid}/signal`, { body: { signal: "kill" } });
  assert.equal(k.status, 200, k.text);
  await t.kernel.whenPurged(pid);
  const [r] = (await t.call(`/v1/human?pid=${pid}`)).json.requests;
  assert.equal(r.state, "void");
  assert.deepEqual(r.preview, digestOf(`${SECRET} question?`));
  assert.equal(r.answer.purged, true);
  assert.equal((await t.call(`/v1/processes/${pid}`)).json.state, "killed");
  assert.equal((await t.call("/v1/audit/verify")).json.ok, true);
});

Deno.test("purge_on_exit: an object shared with a live fork or captured by a checkpoint is kept whole, the rest of the namespace is purged; the purged process's checkpoint cannot be restored (409)", async () => {
  await using t = await bootPlane();
  const image = {
    ...scripted([
      call("create_object", { name: "shared", type: "note", payload: { text: "shared text" } }),
      call("create_object", { name: "private", type: "note", payload: { text: "private text" } }),
      call("fork_process", { goal: "keep reading", objects: ["shared"] }),
      call("checkpoint", { reason: "before the last note" }),
      call("create_object", { name: "late", type: "note", payload: { text: "late text" } }),
      call("exit", { result: null }),
    ], {
      capabilities: [
        { resource: "checkpoint", rights: ["create"] },
        { resource: "proc", rights: ["fork"] },
      ],
      forked: [call("sleep", { ms: 3_600_000 })],
    }),
    retention: "purge_on_exit",
  };
  const s = await t.call("/v1/processes", { body: { image, goal: "g" } });
  const pid: string = s.json.pid;
  const end = await t.call(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=5000`);
  assert.equal(end.json.process.state, "exited", end.text);
  await t.kernel.whenPurged(pid);
  const objects = (await t.call(`/v1/processes/${pid}/objects`)).json.objects as {
    name: string;
    payload: unknown;
  }[];
  const byName = Object.fromEntries(objects.map((o) => [o.name, o.payload]));
  // "shared" is shared with the live child (and was checkpointed); "private"
  // was checkpointed; "late" came after the checkpoint and is purged.
  assert.deepEqual(byName, {
    late: digestOf({ text: "late text" }),
    private: { text: "private text" },
    shared: { text: "shared text" },
  });
  const [purge] = (await t.call(`/v1/audit?pid=${pid}&action=process.purge`)).json.records;
  assert.deepEqual(
    (purge.detail.kept as { why: string }[]).map((k) => k.why).sort(),
    ["captured by a checkpoint", "captured by a checkpoint"],
  );
  const [ck] = (await t.call(`/v1/processes/${pid}/checkpoints`)).json.checkpoints;
  const restore = await t.call(`/v1/checkpoints/${ck.id}/restore`, { body: {} });
  assert.equal(restore.status, 409, restore.text);
  assert.equal(restore.json.error.code, "ESTATE");
  assert.match(restore.json.error.message, /purged/);
  assert.equal((await t.call(`/v1/processes/${pid}`)).json.state, "exited");
});

Deno.test("purge_on_exit: an object shared with a live fork and never checkpointed is kept, named in the purge record", async () => {
  await using t = await bootPlane();
  const image = {
    ...scripted([
      call("create_object", { name: "shared", type: "note", payload: { text: "shared text" } }),
      call("fork_process", { goal: "keep reading", objects: ["shared"] }),
      call("exit", { result: null }),
    ], {
      capabilities: [{ resource: "proc", rights: ["fork"] }],
      forked: [call("sleep", { ms: 3_600_000 })],
    }),
    retention: "purge_on_exit",
  };
  const s = await t.call("/v1/processes", { body: { image, goal: "g" } });
  const pid: string = s.json.pid;
  await t.call(`/v1/processes/${pid}/wait?until=terminal&timeoutMs=5000`);
  await t.kernel.whenPurged(pid);
  const [shared] = (await t.call(`/v1/processes/${pid}/objects`)).json.objects;
  assert.deepEqual(shared.payload, { text: "shared text" });
  const [purge] = (await t.call(`/v1/audit?pid=${pid}&action=process.purge`)).json.records;
  assert.match(purge.detail.kept[0].why, /^shared with p_2 \(grant g_\d+\)$/);
  // The child inherits its parent's retention.
  assert.equal((await t.call("/v1/processes/p_2")).json.retention, "purge_on_exit");
});

// --------------------------------------------------------------- crashes

const quick = () => ({
  ...scripted([
    call("create_object", { name: "n", type: "note", payload: { text: SECRET } }),
    call("exit", { result: { text: SECRET } }),
  ]),
  retention: "purge_on_exit" as const,
});

async function bootOn(store: CrashableStore | MemoryStore, clock: FakeClock, fs: MemoryFilesystem) {
  return await Kernel.create({ store, clock, filesystem: fs });
}

const isPurge = (batch: readonly Mutation[]) => batch.some((m) => m.kind === "journal.redact");

/** Whether every body of p_1 in a store is purged ("all"), none is ("none"), or some are. */
async function purgeState(store: MemoryStore): Promise<"all" | "none" | "some"> {
  const journal = (await store.readJournal("p_1")).filter((e) => e.kind !== "lifecycle");
  const [oid] = await store.listObjectIds("proc/p_1");
  const versions = await store.readObjectVersions(oid!);
  const snap = await store.load();
  const marks = [
    ...journal.map((e) => e.data["purged"] === true),
    ...versions.map((v) => (v.payload as { purged?: boolean }).purged === true),
    snap.processes.find((p) => p.pid === "p_1")!.purgedAt !== null,
  ];
  return marks.every(Boolean) ? "all" : marks.some(Boolean) ? "some" : "none";
}

Deno.test("a crash before the purge batch lands leaves everything kept; the next boot purges the ended process before it returns", async () => {
  const inner = new MemoryStore();
  const store = new CrashableStore(inner);
  const landed = Promise.withResolvers<void>();
  store.crashAt((batch) => {
    if (!isPurge(batch)) return null;
    landed.resolve();
    return "before";
  });
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const fs = new MemoryFilesystem();
  const k1 = await bootOn(store, clock, fs);
  const p = await k1.spawn({ image: quick(), goal: "g" });
  assert.equal((await k1.wait(p.pid, { until: "terminal" })).state, "exited");
  await landed.promise;
  assert.equal(store.crashed, true);
  assert.equal(await purgeState(inner), "none");
  // k1 is dead (its store hangs); a new kernel boots on what was durable.
  const k2 = await bootOn(inner, clock, fs);
  try {
    assert.equal(await purgeState(inner), "all");
    assert.equal(k2.get(p.pid).purgedAt !== null, true);
    assert.deepEqual(k2.listObjects(`proc/${p.pid}`)[0]!.payload, digestOf({ text: SECRET }));
    assert.equal((await k2.verifyAudit()).ok, true);
    assert.equal((await k2.audit({ action: "process.purge" })).length, 1);
  } finally {
    await k2.close();
  }
});

Deno.test("a crash right after the purge batch lands leaves everything purged; the next boot does not purge again", async () => {
  const inner = new MemoryStore();
  const store = new CrashableStore(inner);
  const landed = Promise.withResolvers<void>();
  store.crashAt((batch) => {
    if (!isPurge(batch)) return null;
    landed.resolve();
    return "after";
  });
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const fs = new MemoryFilesystem();
  const k1 = await bootOn(store, clock, fs);
  const p = await k1.spawn({ image: quick(), goal: "g" });
  await k1.wait(p.pid, { until: "terminal" });
  // The purge's commit never resolves (the kernel "died" as it landed).
  await landed.promise;
  assert.equal(store.crashed, true);
  assert.equal(await purgeState(inner), "all");
  const k2 = await bootOn(inner, clock, fs);
  try {
    assert.equal(await purgeState(inner), "all");
    assert.equal((await k2.audit({ action: "process.purge" })).length, 1);
    assert.equal((await k2.verifyAudit()).ok, true);
  } finally {
    await k2.close();
  }
});
