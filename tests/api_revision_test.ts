/**
 * Revisions: processes, grants and human requests carry a `revision` (also
 * their ETag) that changes with every change; answers, signals, restores and
 * revokes with a stale `If-Match` get 412 with the current object, and
 * nothing changes.
 */
import assert from "node:assert/strict";
import { bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

async function parked(t: TestPlane): Promise<string> {
  const s = await t.call("/v1/processes", {
    body: {
      image: scripted([
        call("write_text_file", { path: "out/a.txt", text: "A" }),
        call("checkpoint", {}),
      ], {
        capabilities: [
          { resource: "fs:out/**", rights: ["write"], effect: "ask" },
          { resource: "checkpoint", rights: ["create"] },
        ],
      }),
      goal: "g",
    },
  });
  assert.equal(s.status, 201, s.text);
  await t.call(`/v1/processes/${s.json.pid}/wait?timeoutMs=5000`);
  return s.json.pid;
}

Deno.test("a process's revision is its ETag and changes with every change; a stale If-Match on a signal is 412 with the current process, and nothing changes", async () => {
  await using t = await bootPlane();
  const pid = await parked(t);
  const first = await t.call(`/v1/processes/${pid}`);
  assert.match(first.json.revision, /^[0-9a-f]{20}$/);
  assert.equal(first.headers.get("etag"), `"${first.json.revision}"`);
  const head = t.kernel.auditHead;
  const stale = await t.call(`/v1/processes/${pid}/signal`, {
    body: { signal: "pause" },
    headers: { "if-match": '"0123456789abcdef0123"' },
  });
  assert.equal(stale.status, 412);
  assert.equal(stale.json.error.code, "EREVISION");
  assert.equal(stale.json.current.revision, first.json.revision);
  assert.equal(stale.json.current.state, "waiting");
  assert.deepEqual(t.kernel.auditHead, head, "nothing changed");
  const paused = await t.call(`/v1/processes/${pid}/signal`, {
    body: { signal: "pause" },
    headers: { "if-match": first.headers.get("etag")! },
  });
  assert.equal(paused.status, 200, paused.text);
  assert.notEqual(paused.json.revision, first.json.revision);
  assert.equal(paused.headers.get("etag"), `"${paused.json.revision}"`);
  const again = await t.call(`/v1/processes/${pid}/signal`, {
    body: { signal: "resume" },
    headers: { "if-match": first.headers.get("etag")! },
  });
  assert.equal(again.status, 412, "the old revision is stale now");
});

Deno.test("answers and revokes honour If-Match: stale is 412 and the request stays pending, the grant stays live", async () => {
  await using t = await bootPlane();
  const pid = await parked(t);
  const [r] = (await t.call("/v1/human?state=pending")).json.requests;
  assert.match(r.revision, /^[0-9a-f]{20}$/);
  const stale = await t.call(`/v1/human/${r.id}`, {
    body: { decision: "deny", previewSha256: r.previewSha256 },
    headers: { "if-match": '"ffffffffffffffffffff"' },
  });
  assert.equal(stale.status, 412);
  assert.equal(stale.json.current.state, "pending");
  assert.equal((await t.call(`/v1/human/${r.id}`)).json.state, "pending");

  const [g] = (await t.call(`/v1/processes/${pid}/capabilities`)).json.capabilities;
  const revoke = await t.call(`/v1/capabilities/${g.id}`, {
    method: "DELETE",
    headers: { "if-match": '"ffffffffffffffffffff"' },
  });
  assert.equal(revoke.status, 412);
  assert.equal(t.kernel.capabilities(pid).find((x) => x.id === g.id)?.revoked, false);
  const ok = await t.call(`/v1/capabilities/${g.id}`, {
    method: "DELETE",
    headers: { "if-match": `"${g.revision}"` },
  });
  assert.equal(ok.status, 200, ok.text);
});
