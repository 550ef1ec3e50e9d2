/**
 * Authority ceilings: an operator gives processes nothing above its ceiling —
 * not through an inline image, an image it registers, a grant, a fork or an
 * imported bundle — while a registered image needs no ceiling beyond the one
 * it was checked against at registration. Each refusal is audited with the
 * caller's identity and changes nothing else.
 */
import assert from "node:assert/strict";
import { bootKernel, call, scripted } from "./helpers.ts";
import { bootPlane } from "./api_helpers.ts";
import { parseCeilingItem } from "../mod.ts";

const ceiling = [{ resource: "fs:pub/**", rights: ["read", "write"] }];
const alice = { actor: "token:alice", ceiling };

function refused(what: RegExp) {
  return (e: Error & { code?: string }) =>
    e.code === "EPERM" && what.test(e.message) &&
    /ceiling \(fs:pub\/\*\*:read,write\)/.test(e.message);
}

Deno.test("an inline image above the caller's ceiling is refused, named and audited; one within it spawns", async () => {
  await using t = await bootKernel();
  const wide = scripted([call("exit", { result: null })], {
    capabilities: [{ resource: "shell:**", rights: ["exec"] }, {
      resource: "net:**",
      rights: ["fetch"],
    }],
  });
  await assert.rejects(
    t.kernel.spawn({ image: wide, goal: "g" }, alice),
    refused(/'shell:\*\*' exec/),
  );
  assert.deepEqual(t.kernel.list(), []);
  const [audit] = await t.kernel.audit({ action: "authority.refuse" });
  assert.equal(audit?.actor, "token:alice");
  assert.equal(audit?.resource, "shell:**");
  const narrow = scripted([call("exit", { result: null })], {
    capabilities: [{ resource: "fs:pub/a.txt", rights: ["write"] }],
  });
  const p = await t.kernel.spawn({ image: narrow, goal: "g" }, alice);
  assert.equal((await t.kernel.wait(p.pid, { until: "terminal" })).state, "exited");
});

Deno.test("a registered image needs no ceiling beyond its registrar's; extra grants at spawn do", async () => {
  await using t = await bootKernel();
  const img = scripted([call("exit", { result: null })], {
    id: "wide",
    capabilities: [{ resource: "shell:git", rights: ["exec"] }],
  });
  await assert.rejects(t.kernel.registerImage(img, alice), refused(/register image 'wide'/));
  await t.kernel.registerImage(img, { actor: "operator:admin" });
  const p = await t.kernel.spawn({ image: "wide", goal: "g" }, alice);
  assert.equal((await t.kernel.wait(p.pid, { until: "terminal" })).state, "exited");
  await assert.rejects(
    t.kernel.spawn({
      image: "wide",
      goal: "g",
      capabilities: [{ resource: "fs:secret/**", rights: ["read"] }],
    }, alice),
    refused(/'fs:secret\/\*\*' read/),
  );
});

Deno.test("grant and fork above the ceiling are refused; a deny is always within it", async () => {
  await using t = await bootKernel();
  const p = await t.kernel.spawn({
    image: scripted([call("sleep", { ms: 100_000 })], {
      capabilities: [{ resource: "fs:**", rights: ["read"], delegable: true }],
    }),
    goal: "g",
  });
  await assert.rejects(
    t.kernel.grant(p.pid, { resource: "fs:**", rights: ["write"] }, alice),
    refused(/grant to p_1/),
  );
  await t.kernel.grant(p.pid, { resource: "fs:pub/x", rights: ["write"] }, alice);
  await t.kernel.grant(p.pid, { resource: "net:**", rights: ["fetch"], effect: "deny" }, alice);
  await assert.rejects(
    t.kernel.fork(
      p.pid,
      { goal: "f", capabilities: [{ resource: "fs:**", rights: ["read"] }] },
      alice,
    ),
    refused(/fork p_1/),
  );
  await t.kernel.signal(p.pid, "kill");
});

Deno.test("a bundle whose grants are above the importer's ceiling is refused and imports nothing", async () => {
  await using a = await bootKernel();
  await using b = await bootKernel();
  const p = await a.kernel.spawn({
    image: scripted([call("checkpoint", {}), call("sleep", { ms: 100_000 })], {
      capabilities: [
        { resource: "checkpoint", rights: ["create"] },
        { resource: "net:**", rights: ["fetch"] },
      ],
    }),
    goal: "g",
  });
  await a.kernel.wait(p.pid);
  const [ck] = await a.kernel.listCheckpoints(p.pid);
  const bytes = await a.kernel.exportCheckpoint(ck!.id);
  await assert.rejects(b.kernel.importBundle(bytes, alice), refused(/import a bundle/));
  assert.deepEqual(b.kernel.list(), []);
  await a.kernel.signal(p.pid, "kill");
});

Deno.test("through the API an operator's ceiling is minted with its token, shown, and enforced (403 naming both); empty by default", async () => {
  await using t = await bootPlane();
  const narrow = await t.tokenFor("operator", "narrow", ceiling);
  const plain = await t.tokenFor("operator", "plain", []);
  const listed = (await t.call("/v1/tokens")).json.tokens as { name: string; ceiling: unknown }[];
  assert.deepEqual(listed.find((x) => x.name === "narrow")?.ceiling, ceiling);
  assert.deepEqual(listed.find((x) => x.name === "plain")?.ceiling, []);
  const inline = (resource: string) =>
    scripted([call("exit", { result: null })], { capabilities: [{ resource, rights: ["read"] }] });
  const above = await t.call("/v1/processes", {
    token: narrow,
    body: { image: inline("fs:secret/**"), goal: "g" },
  });
  assert.equal(above.status, 403);
  assert.equal(above.json.error.code, "EPERM");
  assert.match(
    above.json.error.message,
    /'fs:secret\/\*\*' read.*ceiling \(fs:pub\/\*\*:read,write\)/,
  );
  const within = await t.call("/v1/processes", {
    token: narrow,
    body: { image: inline("fs:pub/a.txt"), goal: "g" },
  });
  assert.equal(within.status, 201, within.text);
  const empty = await t.call("/v1/processes", {
    token: plain,
    body: { image: inline("fs:pub/a.txt"), goal: "g" },
  });
  assert.equal(empty.status, 403, "an operator minted without a ceiling gives nothing");
  const refusals = await t.kernel.audit({ action: "authority.refuse" });
  assert.deepEqual(refusals.map((a) => a.actor).sort(), ["token:narrow", "token:plain"]);
  const adminCeiling = await t.call("/v1/tokens", {
    body: { role: "admin", name: "a2", ceiling },
  });
  assert.equal(adminCeiling.status, 400, "an admin token has no ceiling");
});

Deno.test("a ceiling item is RESOURCE:RIGHTS, the rights after the last colon", () => {
  assert.deepEqual(parseCeilingItem("fs:pub/**:read,write"), {
    resource: "fs:pub/**",
    rights: ["read", "write"],
  });
  assert.deepEqual(parseCeilingItem("net:example.com:443:fetch"), {
    resource: "net:example.com:443",
    rights: ["fetch"],
  });
  assert.throws(
    () => parseCeilingItem("fs:pub/**"),
    (e: Error & { code?: string }) =>
      e.code === "EINVAL" && /expected <resource>:<right>/.test(e.message),
  );
});
