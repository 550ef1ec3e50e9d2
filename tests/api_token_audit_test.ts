/**
 * Token mint and revoke are audited as what they are (issue 19, item 7): each
 * is its own record, `token.create` or `token.revoke`, naming the token's id,
 * name and role and the actor, and no audit record holds the secret or its hash.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bootPlane } from "./api_helpers.ts";

Deno.test("minting and revoking a token each write one audit record naming the token and the actor, never the secret", async () => {
  await using t = await bootPlane();
  const created = await t.call("/v1/tokens", { body: { role: "operator", name: "ci" } });
  assert.equal(created.status, 201);
  const secret: string = created.json.token;
  const id: string = created.json.info.id;
  const hash = createHash("sha256").update(secret).digest("hex");

  const minted = await t.call("/v1/audit?action=token.create");
  assert.equal(minted.status, 200);
  assert.equal(minted.json.records.length, 1, minted.text);
  const [mint] = minted.json.records;
  assert.equal(mint.actor, "token:admin");
  assert.deepEqual(mint.detail, { id, name: "ci", role: "operator" });

  // A token minted by another admin token names that actor.
  const admin2 = await t.tokenFor("admin", "second-admin");
  const other = await t.call("/v1/tokens", { token: admin2, body: { role: "viewer" } });
  assert.equal(other.status, 201);

  const revoked = await t.call(`/v1/tokens/${id}`, { token: admin2, method: "DELETE" });
  assert.equal(revoked.status, 200);
  const revokes = await t.call("/v1/audit?action=token.revoke");
  assert.equal(revokes.json.records.length, 1, revokes.text);
  const [revoke] = revokes.json.records;
  assert.equal(revoke.actor, "token:second-admin");
  assert.deepEqual(revoke.detail, { id, name: "ci", role: "operator" });

  const mints = (await t.call("/v1/audit?action=token.create")).json.records;
  assert.deepEqual(
    mints.map((r: { actor: string; detail: { name: string; role: string } }) => [
      r.actor,
      r.detail.name,
      r.detail.role,
    ]),
    [
      ["token:admin", "ci", "operator"],
      ["token:admin", "second-admin", "admin"],
      ["token:second-admin", other.json.info.name, "viewer"],
    ],
  );

  // A refused revoke (already revoked) writes no record.
  assert.equal((await t.call(`/v1/tokens/${id}`, { method: "DELETE" })).status, 409);
  assert.equal((await t.call("/v1/audit?action=token.revoke")).json.records.length, 1);

  // No audit record holds any secret or any hash, in any form.
  const all = await t.call("/v1/audit?limit=1000");
  assert.equal(all.status, 200);
  for (const s of [secret, admin2, other.json.token as string]) {
    const h = createHash("sha256").update(s).digest("hex");
    assert.ok(!all.text.includes(s), "a secret is in the audit log");
    assert.ok(!all.text.includes(h), "a secret's hash is in the audit log");
    assert.ok(!all.text.includes(h.toUpperCase()), "a secret's hash is in the audit log");
  }
  assert.ok(!all.text.includes(hash));
  assert.ok(
    !/"hash"/.test(JSON.stringify(all.json.records.map((r: { detail: unknown }) => r.detail))),
  );
  // The audit chain still verifies with the new records in it.
  assert.equal((await t.call("/v1/audit/verify")).json.ok, true);
});
