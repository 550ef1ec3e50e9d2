/**
 * Tokens: the admin token's sources, minting with roles, hashed durable
 * storage, revocation, and constant-time authentication.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ControlPlane, resolveAdminToken, TokenStore } from "../api/mod.ts";
import { Kernel, MemoryFilesystem, SqliteStore } from "../mod.ts";
import { ADMIN, bootPlane, request } from "./api_helpers.ts";

Deno.test("the admin token comes from LIBOS_ADMIN_TOKEN, else from <data>/admin.token, generated once with mode 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-token-" });
  try {
    const env = await resolveAdminToken({ dataDir: dir, env: "an-admin-token-from-env" });
    assert.deepEqual(env, { token: "an-admin-token-from-env", source: "env", path: null });
    await assert.rejects(resolveAdminToken({ dataDir: dir, env: "short" }), TypeError);

    const first = await resolveAdminToken({ dataDir: join(dir, "data") });
    assert.equal(first.source, "generated");
    assert.ok(first.token.length >= 32);
    const st = await Deno.stat(first.path!);
    assert.equal(st.mode! & 0o777, 0o600);
    const again = await resolveAdminToken({ dataDir: join(dir, "data") });
    assert.deepEqual(again, { token: first.token, source: "file", path: first.path });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an admin mints tokens with roles; they are stored hashed, never in clear, and revocable", async () => {
  await using t = await bootPlane();
  const created = await t.call("/v1/tokens", { body: { role: "operator", name: "ci" } });
  assert.equal(created.status, 201);
  const secret: string = created.json.token;
  assert.equal(created.json.info.role, "operator");
  assert.equal(created.json.info.createdBy, "token:admin");

  const stored = JSON.stringify(t.kernel.getMeta("api.tokens"));
  assert.ok(!stored.includes(secret), "the secret is not stored");
  assert.ok(stored.includes(createHash("sha256").update(secret).digest("hex")));
  const listed = await t.call("/v1/tokens");
  assert.ok(!listed.text.includes(secret) && !listed.text.includes("hash"));

  const me = await t.call("/v1/whoami", { token: secret });
  assert.deepEqual(me.json, {
    id: created.json.info.id,
    name: "ci",
    role: "operator",
    ceiling: [],
  });
  assert.equal(
    (await t.call("/v1/tokens", { token: secret })).status,
    403,
    "operators mint nothing",
  );
  assert.equal((await t.call("/v1/tokens", { body: { role: "viewer", name: "ci" } })).status, 409);
  assert.equal(
    (await t.call("/v1/tokens", { body: { role: "viewer", name: "admin" } })).status,
    409,
  );
  assert.equal((await t.call("/v1/tokens", { body: { role: "root" } })).status, 400);

  const revoked = await t.call(`/v1/tokens/${created.json.info.id}`, { method: "DELETE" });
  assert.equal(revoked.json.revoked, true);
  assert.equal((await t.call("/v1/whoami", { token: secret })).status, 401);
  assert.equal(
    (await t.call(`/v1/tokens/${created.json.info.id}`, { method: "DELETE" })).status,
    409,
  );
  const audit = (await t.call("/v1/audit?action=meta.put")).json.records;
  assert.ok(audit.length >= 2 && audit.every((r: { actor: string }) => r.actor === "token:admin"));
});

Deno.test("minted tokens and revocations survive a restart of the kernel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-token-" });
  try {
    const boot = async () => {
      const kernel = await Kernel.create({
        store: await SqliteStore.open(join(dir, "kernel.db")),
        filesystem: new MemoryFilesystem(),
      });
      return { kernel, plane: await ControlPlane.create(kernel, { adminToken: ADMIN }) };
    };
    let { kernel, plane } = await boot();
    const keep = (await request(plane, "/v1/tokens", { body: { role: "viewer" } })).json;
    const drop = (await request(plane, "/v1/tokens", { body: { role: "admin" } })).json;
    await request(plane, `/v1/tokens/${drop.info.id}`, { method: "DELETE" });
    plane.close();
    await kernel.close();

    ({ kernel, plane } = await boot());
    try {
      assert.equal((await request(plane, "/v1/whoami", { token: keep.token })).json.role, "viewer");
      assert.equal((await request(plane, "/v1/whoami", { token: drop.token })).status, 401);
      const next = (await request(plane, "/v1/tokens", { body: { role: "viewer" } })).json;
      assert.equal(next.info.id, "t_3", "ids are never reused");
    } finally {
      plane.close();
      await kernel.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("authentication accepts only exact secrets and refuses short admin tokens", async () => {
  await using kernel = await Kernel.create();
  assert.throws(() => TokenStore.open(kernel, { adminToken: "short" }), TypeError);
  const store = TokenStore.open(kernel, { adminToken: ADMIN });
  assert.equal(store.authenticate(ADMIN)?.role, "admin");
  for (const wrong of [ADMIN.slice(0, -1), `${ADMIN}x`, ADMIN.toUpperCase(), "", " ".repeat(40)]) {
    assert.equal(store.authenticate(wrong), null, JSON.stringify(wrong));
  }
  const { token } = await store.create({ role: "viewer" }, { actor: "test" });
  assert.equal(store.authenticate(token)?.role, "viewer");
  assert.equal(store.authenticate(token.slice(0, -1)), null);
});

Deno.test("bearer parsing: a missing scheme, a basic scheme or an empty token are 401 with WWW-Authenticate", async () => {
  await using t = await bootPlane();
  for (const header of [ADMIN, `Basic ${ADMIN}`, "Bearer", "Bearer  ", `Bearer ${ADMIN} extra`]) {
    const r = await t.call("/v1/whoami", { token: null, headers: { authorization: header } });
    assert.equal(r.status, 401, header);
    assert.match(r.headers.get("www-authenticate")!, /^Bearer/);
  }
  const ok = await t.call("/v1/whoami", {
    token: null,
    headers: { authorization: `bearer ${ADMIN}` },
  });
  assert.equal(ok.status, 200);
});
