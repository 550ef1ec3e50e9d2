/**
 * Input discipline: body size limit (413), validation errors (400 with the
 * issues), unknown ids (404), illegal transitions (409), no stack traces,
 * and a rejected request changes no state.
 */
import assert from "node:assert/strict";
import { type Answer, bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";

/** Everything a request could have changed. */
function snapshot(t: TestPlane): string {
  return JSON.stringify({
    processes: t.kernel.list(),
    human: t.kernel.humanRequests(),
    images: t.kernel.images.list(),
    audit: t.kernel.auditHead,
    tokens: t.plane.tokens.list(),
  });
}

function assertError(r: Answer, status: number, code: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.code, code, r.text);
  assert.deepEqual(
    Object.keys(r.json).sort(),
    ["error"],
  );
  assert.ok(!/\n\s+at /.test(r.text), `a stack leaked: ${r.text}`);
  assert.match(r.headers.get("content-type")!, /application\/json/);
}

Deno.test("rejected requests answer 400/401/403/404/409/413 with a code and a message, and change no state", async () => {
  await using t = await bootPlane({ bodyLimit: 4096 });
  const parked = await t.call("/v1/processes", {
    body: { image: scripted([call("sleep", { ms: 60_000 })]), goal: "parked" },
  });
  const pid = parked.json.pid;
  await t.call(`/v1/processes/${pid}/wait`);
  const viewer = await t.tokenFor("viewer");
  const before = snapshot(t);

  const image = scripted([call("exit", {})]);
  // 413: over the body limit (and nothing is spawned from it).
  assertError(
    await t.call("/v1/processes", { body: { image, goal: "x".repeat(10_000) } }),
    413,
    "ELIMIT",
  );
  // 400: malformed JSON, wrong media type, schema failures with their issues.
  assertError(await t.call("/v1/processes", { body: "{not json" }), 400, "EINVAL");
  const wrongType = await t.call("/v1/processes", {
    body: "image=x",
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  assert.equal(wrongType.status, 415);
  const invalid = await t.call("/v1/processes", {
    body: { image, goal: 5, capabilities: [{ resource: "fs:a", rights: "read" }], extra: 1 },
  });
  assertError(invalid, 400, "EINVAL");
  assert.deepEqual(
    invalid.json.error.issues.map((i: { path: string }) => i.path).sort(),
    ["", "capabilities.0.rights", "goal"],
  );
  const badImage = await t.call("/v1/images", { body: { ...image, id: "Bad Id!" } });
  assertError(badImage, 400, "EINVAL");
  assert.equal(badImage.json.error.issues[0].path, "id");
  // 400 from the kernel's own checks: a right that fs: resources do not have.
  assertError(
    await t.call(`/v1/processes/${pid}/capabilities`, {
      body: { resource: "fs:a", rights: ["fly"] },
    }),
    400,
    "EINVAL",
  );
  assertError(await t.call(`/v1/processes/${pid}/wait?timeoutMs=abc`), 400, "EINVAL");
  assertError(await t.call(`/v1/processes?state=sleeping`), 400, "EINVAL");
  // 401 and 403.
  assertError(
    await t.call("/v1/processes", { token: null, body: { image, goal: "g" } }),
    401,
    "EAUTH",
  );
  assertError(
    await t.call("/v1/processes", { token: viewer, body: { image, goal: "g" } }),
    403,
    "EPERM",
  );
  // 404: unknown ids of every kind, and unknown routes.
  for (
    const [path, method] of [
      ["/v1/processes/p_999", "GET"],
      ["/v1/processes/p_999/journal", "GET"],
      ["/v1/processes/p_999/objects", "GET"],
      ["/v1/processes/p_999/capabilities", "GET"],
      ["/v1/objects/o_nothing", "GET"],
      ["/v1/human/h_999", "GET"],
      ["/v1/capabilities/g_999", "DELETE"],
      ["/v1/tokens/t_999", "DELETE"],
      ["/v1/nothing", "GET"],
    ] as const
  ) {
    assertError(await t.call(path, { method }), 404, "ENOENT");
  }
  assertError(
    await t.call("/v1/processes/p_999/signal", { body: { signal: "kill" } }),
    404,
    "ENOENT",
  );
  assertError(
    await t.call("/v1/processes", { body: { image: "no-such-image", goal: "g" } }),
    404,
    "ENOENT",
  );
  // 409: illegal transitions.
  assertError(
    await t.call(`/v1/processes/${pid}/signal`, { body: { signal: "resume" } }),
    409,
    "ESTATE",
  );

  assert.equal(snapshot(t), before);
});

Deno.test("illegal transitions are 409 after legal ones succeed: pause, pause again, resume, kill, kill again", async () => {
  await using t = await bootPlane();
  const p = await t.call("/v1/processes", {
    body: { image: scripted([call("sleep", { ms: 60_000 })]), goal: "g" },
  });
  const pid = p.json.pid;
  await t.call(`/v1/processes/${pid}/wait`);
  const sig = (signal: string) => t.call(`/v1/processes/${pid}/signal`, { body: { signal } });
  assert.equal((await sig("pause")).json.state, "suspended");
  assertError(await sig("pause"), 409, "ESTATE");
  assert.equal((await sig("resume")).json.state, "waiting");
  assert.equal((await sig("kill")).json.state, "killed");
  assertError(await sig("kill"), 409, "ESTATE");
  assertError(
    await t.call(`/v1/processes/${pid}/fork`, { body: {} }),
    409,
    "ESTATE",
  );
  const audit = (await t.call(`/v1/audit?pid=${pid}&action=process.killed`)).json.records;
  assert.equal(audit[0].actor, "token:admin");
});

Deno.test("an unexpected failure is a 500 with a generic message: no stack, no internal detail", async () => {
  await using t = await bootPlane();
  const original = console.error;
  const logged: unknown[] = [];
  console.error = (...args: unknown[]) => void logged.push(args);
  t.kernel.list = () => {
    throw new Error("secret internal detail at /srv/kernel.ts:42");
  };
  try {
    const r = await t.call("/v1/processes");
    assertError(r, 500, "EINTERNAL");
    assert.equal(r.json.error.message, "Internal error");
    assert.ok(!r.text.includes("secret"));
    assert.equal(logged.length, 1, "the operator's log gets the detail");
  } finally {
    console.error = original;
  }
});

Deno.test("spawn, fork, grant, revoke and image registration work and are audited as the calling token", async () => {
  await using t = await bootPlane();
  const op = await t.tokenFor("operator", "ops");
  const image = scripted([call("sleep", { ms: 60_000 })], {
    id: "sleeper",
    capabilities: [{ resource: "fs:data/**", rights: ["read"], delegable: true }],
  });
  const reg = await t.call("/v1/images", { token: op, body: image });
  assert.equal(reg.status, 201, reg.text);
  assert.equal((await t.call("/v1/images")).json.images[0].id, "sleeper");
  const conflict = await t.call("/v1/images", {
    token: op,
    body: { ...image, description: "other content, same version" },
  });
  assertError(conflict, 409, "EEXIST");
  const p = await t.call("/v1/processes", { token: op, body: { image: "sleeper", goal: "g" } });
  assert.equal(p.status, 201);
  const pid = p.json.pid;
  await t.call(`/v1/processes/${pid}/wait`);
  const child = await t.call(`/v1/processes/${pid}/fork`, {
    token: op,
    body: { goal: "child", capabilities: [{ resource: "fs:data/a/**", rights: ["read"] }] },
  });
  assert.equal(child.status, 201, child.text);
  assert.equal(child.json.process.parentPid, pid);
  const escalate = await t.call(`/v1/processes/${pid}/fork`, {
    token: op,
    body: { capabilities: [{ resource: "fs:**", rights: ["write"] }] },
  });
  assertError(escalate, 403, "EPERM");
  // Granting needs admin.
  assertError(
    await t.call(`/v1/processes/${pid}/capabilities`, {
      token: op,
      body: { resource: "fs:logs/**", rights: ["read"] },
    }),
    403,
    "EPERM",
  );
  const g = await t.call(`/v1/processes/${pid}/capabilities`, {
    body: { resource: "fs:logs/**", rights: ["read"] },
  });
  assert.equal(g.status, 201);
  const root = (await t.call(`/v1/processes/${pid}/capabilities`)).json.capabilities[0];
  const revoked = await t.call(`/v1/capabilities/${root.id}`, { method: "DELETE" });
  assert.equal(revoked.json.revoked.length, 2, "the fork's derived grant goes too");
  const actors = (await t.call("/v1/audit?limit=1000")).json.records.map((
    r: { action: string; actor: string },
  ) => `${r.action} ${r.actor}`);
  for (
    const line of [
      "image.register token:ops",
      "proc.spawn token:ops",
      "proc.fork token:ops",
      "cap.grant token:admin",
      "cap.revoke token:admin",
    ]
  ) assert.ok(actors.includes(line), `${line} in ${actors.join("; ")}`);
  const tools = (await t.call("/v1/tools")).json.tools;
  assert.ok(tools.some((x: { name: string }) => x.name === "write_text_file"));
});
