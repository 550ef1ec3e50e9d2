/**
 * Checkpoints over the API: take, list, restore, export a bundle and import
 * it into another kernel, with the roles each needs.
 */
import assert from "node:assert/strict";
import { ADMIN, bootPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

Deno.test("a checkpoint is taken by an operator, listed, exported as a bundle and imported into another kernel by an admin", async () => {
  await using a = await bootPlane();
  await using b = await bootPlane();
  const op = await a.tokenFor("operator");
  const p = await a.call("/v1/processes", {
    token: op,
    body: {
      image: scripted([
        call("create_object", { name: "n", type: "note", payload: { text: "kept" } }),
        call("sleep", { ms: 60_000 }),
        call("exit", { result: "resumed" }),
      ]),
      goal: "g",
    },
  });
  const pid = p.json.pid;
  await a.call(`/v1/processes/${pid}/wait`);

  const taken = await a.call(`/v1/processes/${pid}/checkpoints`, {
    token: op,
    body: { reason: "before the move" },
  });
  assert.equal(taken.status, 201, taken.text);
  assert.equal(taken.json.pid, pid);
  assert.equal(taken.json.reason, "before the move");
  assert.equal(taken.json.createdBy, "token:operator-1");
  const list = await a.call(`/v1/processes/${pid}/checkpoints`, { token: op });
  assert.deepEqual(list.json.checkpoints.map((c: { id: string }) => c.id), [taken.json.id]);

  // Exporting and restoring need admin.
  assert.equal(
    (await a.call(`/v1/checkpoints/${taken.json.id}/bundle`, { token: op })).status,
    403,
  );
  const res = await a.plane.request(`/v1/checkpoints/${taken.json.id}/bundle`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  const bundle = new Uint8Array(await res.arrayBuffer());
  assert.ok(bundle.length > 0);

  const imported = await b.plane.request("/v1/checkpoints/import", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" },
    body: bundle,
  });
  assert.equal(imported.status, 201, await imported.clone().text());
  const { pids } = await imported.json();
  const there = pids[pid];
  assert.ok(typeof there === "string");
  const moved = (await b.call(`/v1/processes/${there}`)).json;
  assert.equal(moved.goal, "g");
  const objects = (await b.call(`/v1/processes/${there}/objects`)).json.objects;
  assert.deepEqual(objects.map((o: { name: string }) => o.name), ["n"]);

  // A corrupted bundle is refused and imports nothing.
  const before = b.kernel.list().length;
  const broken = bundle.slice();
  const middle = Math.floor(broken.length / 2);
  broken[middle] = broken[middle]! ^ 0xff;
  const refused = await b.plane.request("/v1/checkpoints/import", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" },
    body: broken,
  });
  assert.ok([400, 409, 422].includes(refused.status), String(refused.status));
  await refused.body?.cancel();
  assert.equal(b.kernel.list().length, before);
  const wrongType = await b.call("/v1/checkpoints/import", { body: { not: "a bundle" } });
  assert.equal(wrongType.status, 400);
});

Deno.test("restore rolls a process back to its checkpoint; unknown checkpoints are 404", async () => {
  await using t = await bootPlane();
  const p = await t.call("/v1/processes", {
    body: {
      image: scripted([
        call("create_object", { name: "n", type: "note", payload: { text: "v1" } }),
        call("sleep", { ms: 1_000 }),
        call("write_object", { ref: "n", payload: { text: "v2" } }),
        call("sleep", { ms: 60_000 }),
      ]),
      goal: "g",
    },
  });
  const pid = p.json.pid;
  await t.call(`/v1/processes/${pid}/wait`);
  const cp = (await t.call(`/v1/processes/${pid}/checkpoints`, { body: {} })).json;
  t.clock.advance(1_000);
  await t.kernel.idle();
  await t.call(`/v1/processes/${pid}/wait`);
  const version = async () =>
    (await t.call(`/v1/processes/${pid}/objects`)).json.objects[0].payload.text;
  assert.equal(await version(), "v2");
  await t.call(`/v1/processes/${pid}/signal`, { body: { signal: "pause" } });
  const restored = await t.call(`/v1/checkpoints/${cp.id}/restore`, { method: "POST" });
  assert.equal(restored.status, 200, restored.text);
  assert.equal(restored.json.pid, pid);
  assert.equal(await version(), "v1");
  const audit = (await t.call(`/v1/audit?pid=${pid}`)).json.records.map((r: { action: string }) =>
    r.action
  );
  assert.ok(audit.some((a: string) => a.startsWith("checkpoint.restore")), audit.join());
  assert.equal((await t.call("/v1/checkpoints/c_404/restore", { method: "POST" })).status, 404);
  assert.equal((await t.call("/v1/processes/p_404/checkpoints")).status, 404);
});
