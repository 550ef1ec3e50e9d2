/**
 * The kernel as an MCP server at `/mcp`, driven by the official SDK's client
 * (`Client` + `StreamableHTTPClientTransport`) against an in-process control
 * plane: every role × every tool, what `tools/list` shows each role, the
 * audit record of every call, previews bound by previewSha256, the token's
 * ceiling on spawns, resources, and the HTTP edge (401, 403, 405).
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mcpAllowedHostsFor, type Role, ROLES } from "../api/mod.ts";
import { ADMIN, bootPlane, type TestPlane } from "./api_helpers.ts";
import { call, scripted } from "./helpers.ts";
import { bodyText } from "../mod.ts";

const READ_TOOLS = [
  "list_processes",
  "get_process",
  "wait_process",
  "read_journal",
  "list_objects",
  "read_object",
  "list_human_requests",
];
const OPERATOR_TOOLS = ["spawn_process", "answer_human_request", "signal_process"];

const MCP_HEADERS = {
  accept: "application/json, text/event-stream",
  "content-type": "application/json",
};

/** An SDK client connected to the plane's `/mcp` in-process, as `token`. */
async function connect(
  t: TestPlane,
  token: string,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport } & AsyncDisposable> {
  const client = new Client({ name: "libos-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: (input, init) => Promise.resolve(t.plane.fetch(new Request(input, init))),
  });
  await client.connect(transport);
  return { client, transport, [Symbol.asyncDispose]: () => client.close() };
}

/** A tool call's outcome: `ok`, or the code of its tool error. */
async function outcome(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ outcome: string; value: Record<string, unknown> }> {
  const r = await client.callTool({ name, arguments: args });
  const value = (r.structuredContent ?? {}) as Record<string, unknown>;
  if (r.isError !== true) return { outcome: "ok", value };
  const error = value["error"] as { code: string; message: string };
  const text = (r.content as { type: string; text: string }[])[0]!.text;
  assert.equal(text, `${error.code}: ${error.message}`, "the text names the code");
  return { outcome: error.code, value };
}

/** A resource's JSON text, parsed. */
function _json(content: { text: string } | { blob: string }): unknown {
  assert.ok("text" in content, "a text resource");
  return JSON.parse(content.text);
}

/** Spawns (as the admin) a process that writes an object and asks a question; waits until it asks. */
async function parked(t: TestPlane): Promise<{ pid: string; request: Record<string, string> }> {
  const image = scripted([
    call("create_object", { name: "n", type: "note", payload: { text: "kept" } }),
    call("ask_human", { question: "go?" }),
    call("exit", {}),
  ], { capabilities: [{ resource: "human:operator", rights: ["ask"] }] });
  const s = await t.call("/v1/processes", { body: { image, goal: "parked" } });
  assert.equal(s.status, 201, s.text);
  const pid = s.json.pid as string;
  const w = await t.call(`/v1/processes/${pid}/wait?timeoutMs=5000`);
  assert.equal(w.json.process.state, "waiting", w.text);
  const request = (await t.call(`/v1/human?pid=${pid}&state=pending`)).json.requests[0];
  return { pid, request };
}

/** Registers (as the admin) an image that exits at once. */
async function registerExit(t: TestPlane): Promise<string> {
  const image = scripted([call("exit", { result: "done" })], { id: "mcp-exit" });
  const r = await t.call("/v1/images", { body: image });
  assert.ok(r.status === 201 || r.status === 200, r.text);
  return image.id;
}

Deno.test("every role × every MCP tool: a viewer sees and calls only the read tools, an operator and an admin all ten; each call is audited with the token and its role", async () => {
  await using t = await bootPlane();
  const image = await registerExit(t);
  const reader = await parked(t);
  const oid = (await t.call(`/v1/processes/${reader.pid}/objects`)).json.objects[0].oid as string;
  // Targets of the changing tools, one per role, so that each role's call finds them as they were.
  const targets: Record<Role, { pid: string; request: Record<string, string> }> = {
    viewer: await parked(t),
    operator: await parked(t),
    admin: await parked(t),
  };
  const killed: Record<Role, string> = {
    viewer: (await parked(t)).pid,
    operator: (await parked(t)).pid,
    admin: (await parked(t)).pid,
  };
  const tokens: Record<Role, string> = {
    viewer: await t.tokenFor("viewer", "v"),
    operator: await t.tokenFor("operator", "o"),
    admin: await t.tokenFor("admin", "a"),
  };
  const names: Record<Role, string> = { viewer: "v", operator: "o", admin: "a" };
  const args = (role: Role): Record<string, Record<string, unknown>> => ({
    list_processes: { state: "waiting" },
    get_process: { pid: reader.pid },
    wait_process: { pid: reader.pid, timeoutMs: 0 },
    read_journal: { pid: reader.pid, limit: 5 },
    list_objects: { pid: reader.pid },
    read_object: { oid },
    list_human_requests: { pid: reader.pid },
    spawn_process: { image, goal: `spawned by ${role}` },
    answer_human_request: {
      id: targets[role].request["id"],
      decision: "answer",
      answer: "yes",
      previewSha256: targets[role].request["previewSha256"],
    },
    signal_process: { pid: killed[role], signal: "kill" },
  });
  const auditFrom = t.kernel.auditHead?.seq ?? 0;

  const listed: Record<string, string[]> = {};
  const expected: string[] = [];
  const actual: string[] = [];
  for (const role of ROLES) {
    await using mcp = await connect(t, tokens[role]);
    listed[role] = (await mcp.client.listTools()).tools.map((x) => x.name).sort();
    for (const [tool, a] of Object.entries(args(role))) {
      const allowed = role !== "viewer" || READ_TOOLS.includes(tool);
      expected.push(`${role} ${tool}: ${allowed ? "ok" : "EPERM"}`);
      const r = await outcome(mcp.client, tool, a);
      actual.push(`${role} ${tool}: ${r.outcome}`);
      if (r.outcome === "EPERM") {
        assert.match(
          (r.value["error"] as { message: string }).message,
          new RegExp(`Cannot call ${tool}: the token 'v' has role viewer, this needs operator`),
        );
      }
    }
  }
  assert.deepEqual(actual, expected);
  assert.deepEqual(listed, {
    viewer: [...READ_TOOLS].sort(),
    operator: [...READ_TOOLS, ...OPERATOR_TOOLS].sort(),
    admin: [...READ_TOOLS, ...OPERATOR_TOOLS].sort(),
  });

  // One audit record per call, naming the token, its role and the outcome.
  const records = (await t.kernel.audit({ action: "mcp.call", afterSeq: auditFrom }))
    .map((r) =>
      `${r.actor} ${r.detail["tool"]} ${r.detail["role"]} ${r.detail["outcome"]} ${r.decision}`
    );
  assert.deepEqual(
    records,
    ROLES.flatMap((role) =>
      Object.keys(args(role)).map((tool) => {
        const allowed = role !== "viewer" || READ_TOOLS.includes(tool);
        return `token:${names[role]} ${tool} ${role} ${allowed ? "ok" : "EPERM"} ${
          allowed ? "allow" : "deny"
        }`;
      })
    ),
  );
  const tokenIds = (await t.kernel.audit({ action: "mcp.call", afterSeq: auditFrom }))
    .map((r) => r.detail["token"]);
  assert.ok(tokenIds.every((id) => typeof id === "string" && /^t_\d+$/.test(id)), "token ids");

  // The viewer's refused calls changed nothing; the operator's and admin's took effect,
  // audited by the kernel with the token as the actor.
  await t.kernel.idle();
  assert.equal(t.kernel.get(targets.viewer.pid).state, "waiting");
  assert.equal(t.kernel.get(killed.viewer).state, "waiting");
  assert.equal(t.kernel.humanRequest(targets.viewer.request["id"]!).state, "pending");
  const spawned = t.kernel.list().filter((p) => bodyText(p.goal).startsWith("spawned by"));
  assert.deepEqual(spawned.map((p) => p.goal).sort(), ["spawned by admin", "spawned by operator"]);
  for (const role of ["operator", "admin"] as const) {
    assert.equal(t.kernel.get(killed[role]).state, "killed");
    assert.equal(t.kernel.humanRequest(targets[role].request["id"]!).state, "answered");
    const answered = await t.kernel.audit({ pid: targets[role].pid, afterSeq: auditFrom });
    assert.ok(
      answered.some((r) => r.action.startsWith("human.") && r.actor === `token:${names[role]}`),
      `${role}'s answer is audited as token:${names[role]}`,
    );
  }
});

Deno.test("answer_human_request needs the previewSha256 as read: another is an ESTALE tool error and the request stays pending", async () => {
  await using t = await bootPlane();
  const { request } = await parked(t);
  await using mcp = await connect(t, await t.tokenFor("operator", "o"));
  const stale = await outcome(mcp.client, "answer_human_request", {
    id: request["id"],
    decision: "answer",
    answer: "yes",
    previewSha256: "0".repeat(64),
  });
  assert.equal(stale.outcome, "ESTALE");
  assert.match((stale.value["error"] as { message: string }).message, /preview/);
  assert.equal(t.kernel.humanRequest(request["id"]!).state, "pending");
  const missing = await outcome(mcp.client, "answer_human_request", {
    id: request["id"],
    decision: "answer",
    answer: "yes",
  });
  assert.equal(missing.outcome, "EINVAL");
  assert.deepEqual(
    (missing.value["error"] as { issues: { path: string }[] }).issues.map((i) => i.path),
    ["previewSha256"],
  );
  const revision = await outcome(mcp.client, "answer_human_request", {
    id: request["id"],
    decision: "answer",
    answer: "yes",
    previewSha256: request["previewSha256"],
    revision: "not-the-revision",
  });
  assert.equal(revision.outcome, "EREVISION");
  assert.equal(t.kernel.humanRequest(request["id"]!).state, "pending");
  const ok = await outcome(mcp.client, "answer_human_request", {
    id: request["id"],
    decision: "answer",
    answer: "yes",
    previewSha256: request["previewSha256"],
    revision: request["revision"],
  });
  assert.equal(ok.outcome, "ok");
  assert.equal(ok.value["state"], "answered");
  const audited = await t.kernel.audit({ action: "mcp.call" });
  assert.deepEqual(audited.map((r) => r.detail["outcome"]), [
    "ESTALE",
    "EINVAL",
    "EREVISION",
    "ok",
  ]);
});

Deno.test("spawn_process holds the token's ceiling: a capability beyond it is an EPERM tool error and nothing is spawned", async () => {
  await using t = await bootPlane();
  const image = await registerExit(t);
  const narrow = await t.tokenFor("operator", "narrow", [
    { resource: "fs:docs/**", rights: ["read"] },
  ]);
  await using mcp = await connect(t, narrow);
  const wide = await outcome(mcp.client, "spawn_process", {
    image,
    goal: "too wide",
    capabilities: [{ resource: "fs:**", rights: ["write"] }],
  });
  assert.equal(wide.outcome, "EPERM");
  assert.match((wide.value["error"] as { message: string }).message, /fs:\*\*/);
  assert.equal(t.kernel.list().length, 0, "nothing spawned");
  const refusal = await t.kernel.audit({ action: "authority.refuse" });
  assert.equal(refusal.length, 1);
  assert.equal(refusal[0]!.actor, "token:narrow");
  const within = await outcome(mcp.client, "spawn_process", {
    image,
    goal: "within",
    capabilities: [{ resource: "fs:docs/a.md", rights: ["read"] }],
  });
  assert.equal(within.outcome, "ok");
  const pid = within.value["pid"] as string;
  const waited = await outcome(mcp.client, "wait_process", { pid, until: "terminal" });
  assert.deepEqual(
    [
      waited.outcome,
      (waited.value["process"] as { state: string }).state,
      waited.value["timedOut"],
    ],
    ["ok", "exited", false],
  );
  const calls = await t.kernel.audit({ action: "mcp.call" });
  assert.deepEqual(calls.map((r) => [r.detail["outcome"], r.pid]), [
    ["EPERM", null],
    ["ok", pid],
    ["ok", pid],
  ]);
});

Deno.test("bad arguments and unknown ids are tool errors naming them, and change nothing", async () => {
  await using t = await bootPlane();
  await using mcp = await connect(t, ADMIN);
  const head = t.kernel.auditHead;
  const bad = await outcome(mcp.client, "signal_process", { pid: "p_1", signal: "explode" });
  assert.equal(bad.outcome, "EINVAL");
  const issues = (bad.value["error"] as { issues: { path: string }[] }).issues;
  assert.deepEqual(issues.map((i) => i.path), ["signal"]);
  const extra = await outcome(mcp.client, "get_process", { pid: "p_1", surprise: true });
  assert.equal(extra.outcome, "EINVAL");
  const unknown = await outcome(mcp.client, "get_process", { pid: "p_404" });
  assert.equal(unknown.outcome, "ENOENT");
  assert.match((unknown.value["error"] as { message: string }).message, /p_404/);
  await assert.rejects(
    mcp.client.callTool({ name: "format_disk", arguments: {} }),
    /Cannot call tool 'format_disk': no such tool/,
  );
  // Only the audit records of the four calls were added.
  const added = await t.kernel.audit({ afterSeq: head?.seq ?? 0 });
  assert.deepEqual(added.map((r) => `${r.action} ${r.detail["outcome"]} ${r.decision}`), [
    "mcp.call EINVAL allow",
    "mcp.call EINVAL allow",
    "mcp.call ENOENT allow",
    "mcp.call ENOENT deny",
  ]);
  assert.equal(t.kernel.list().length, 0);
});

Deno.test("resources: templates for objects and journals; reads answer what the HTTP API does, are audited, and an unknown one is resource-not-found", async () => {
  await using t = await bootPlane();
  const { pid } = await parked(t);
  await using mcp = await connect(t, await t.tokenFor("viewer", "v"));
  const templates = (await mcp.client.listResourceTemplates()).resourceTemplates;
  assert.deepEqual(templates.map((x) => x.uriTemplate), [
    "libos://objects/{oid}",
    "libos://journal/{pid}{?after,limit}",
  ]);
  const listed = (await mcp.client.listResources()).resources.map((r) => r.uri);
  assert.deepEqual(listed, [`libos://journal/${pid}`]);

  const object = (await t.call(`/v1/processes/${pid}/objects`)).json.objects[0];
  const read = await mcp.client.readResource({ uri: `libos://objects/${object.oid}` });
  assert.equal(read.contents[0]!.mimeType, "application/json");
  assert.deepEqual(_json(read.contents[0]!), object);

  const entries = (await t.call(`/v1/processes/${pid}/journal?after=1&limit=2`)).json.entries;
  assert.equal(entries.length, 2);
  const page = await mcp.client.readResource({ uri: `libos://journal/${pid}?after=1&limit=2` });
  assert.deepEqual(_json(page.contents[0]!), entries);

  await assert.rejects(
    mcp.client.readResource({ uri: "libos://journal/p_404" }),
    (e: Error & { code?: number }) => e.code === -32002 && /p_404/.test(e.message),
  );
  await assert.rejects(
    mcp.client.readResource({ uri: "libos://journal/p_1?limit=0" }),
    /limit=0/,
  );
  await assert.rejects(mcp.client.readResource({ uri: "file:///etc/passwd" }), /libos:\/\//);
  const reads = await t.kernel.audit({ action: "mcp.read" });
  assert.deepEqual(reads.map((r) => `${r.actor} ${r.detail["role"]} ${r.detail["outcome"]}`), [
    "token:v viewer ok",
    "token:v viewer ok",
    "token:v viewer ENOENT",
    "token:v viewer EINVAL",
    "token:v viewer EINVAL",
  ]);
});

Deno.test("the server negotiates protocol 2025-11-25, keeps no session, and answers GET and DELETE with 405", async () => {
  await using t = await bootPlane();
  await using mcp = await connect(t, ADMIN);
  assert.equal(mcp.transport.protocolVersion, "2025-11-25");
  assert.equal(mcp.transport.sessionId, undefined);
  assert.deepEqual(mcp.client.getServerVersion(), { name: "agent-libos", version: "1.0.0" });
  assert.ok(mcp.client.getServerCapabilities()?.tools);
  assert.ok(mcp.client.getServerCapabilities()?.resources);
  assert.deepEqual(await mcp.client.ping(), {});
  for (const method of ["GET", "DELETE"]) {
    const res = await t.plane.request("/mcp", {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, accept: "text/event-stream" },
    });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "POST");
    assert.equal((await res.json()).error.code, -32000);
  }
});

Deno.test("/mcp: a missing, unknown or revoked token is 401; a Host or Origin of another site is 403 before the token is read", async () => {
  await using t = await bootPlane();
  const gone = await t.tokenFor("viewer", "gone");
  const goneId = t.plane.tokens.list().find((x) => x.name === "gone")!.id;
  await t.call(`/v1/tokens/${goneId}`, { method: "DELETE" });
  const head = t.kernel.auditHead;
  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "probe", version: "1" },
    },
  });
  const send = async (url: string, headers: Record<string, string>) => {
    const res = await t.plane.fetch(
      new Request(url, {
        method: "POST",
        headers: { ...MCP_HEADERS, ...headers },
        body: initialize,
      }),
    );
    return { status: res.status, body: await res.json() };
  };
  const outcomes: Record<string, string> = {};
  const cases: [string, string, Record<string, string>][] = [
    ["no token", "http://localhost/mcp", {}],
    ["unknown token", "http://localhost/mcp", { authorization: `Bearer ${"x".repeat(40)}` }],
    ["revoked token", "http://localhost/mcp", { authorization: `Bearer ${gone}` }],
    ["admin", "http://127.0.0.1:8787/mcp", { authorization: `Bearer ${ADMIN}` }],
    ["admin, local origin", "http://localhost/mcp", {
      authorization: `Bearer ${ADMIN}`,
      origin: "http://localhost:5173",
    }],
    ["admin, evil origin", "http://localhost/mcp", {
      authorization: `Bearer ${ADMIN}`,
      origin: "http://evil.example.com",
    }],
    ["no token, evil origin", "http://localhost/mcp", { origin: "http://evil.example.com" }],
    ["admin, evil host", "http://evil.example.com/mcp", { authorization: `Bearer ${ADMIN}` }],
    ["admin, evil Host header", "http://localhost/mcp", {
      authorization: `Bearer ${ADMIN}`,
      host: "evil.example.com:8787",
    }],
    ["admin, null origin", "http://localhost/mcp", {
      authorization: `Bearer ${ADMIN}`,
      origin: "null",
    }],
  ];
  for (const [label, url, headers] of cases) {
    const r = await send(url, headers);
    outcomes[label] = `${r.status} ${r.body.error?.code ?? r.body.result?.protocolVersion}`;
  }
  assert.deepEqual(outcomes, {
    "no token": "401 EAUTH",
    "unknown token": "401 EAUTH",
    "revoked token": "401 EAUTH",
    "admin": "200 2025-11-25",
    "admin, local origin": "200 2025-11-25",
    "admin, evil origin": "403 EPERM",
    "no token, evil origin": "403 EPERM",
    "admin, evil host": "403 EPERM",
    "admin, evil Host header": "403 EPERM",
    "admin, null origin": "403 EPERM",
  });
  // The SDK's client reports the 401 and connects to nothing.
  const client = new Client({ name: "libos-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
    fetch: (input, init) => Promise.resolve(t.plane.fetch(new Request(input, init))),
  });
  await assert.rejects(
    client.connect(transport),
    (e: Error & { code?: number }) => e.code === 401 && /EAUTH/.test(e.message),
  );
  await client.close();
  assert.deepEqual(t.kernel.auditHead, head, "refused requests are not calls: nothing audited");
});

Deno.test("a plane allowed another host name accepts it in Host and Origin", async () => {
  await using t = await bootPlane({ mcpAllowedHosts: ["libos.lan"] });
  const res = await t.plane.fetch(
    new Request("http://libos.lan:8787/mcp", {
      method: "POST",
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${ADMIN}`,
        origin: "https://libos.lan",
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    }),
  );
  assert.deepEqual([res.status, (await res.json()).result], [200, {}]);
  const local = await t.plane.fetch(
    new Request("http://localhost/mcp", {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    }),
  );
  assert.equal(local.status, 403, "loopback is not allowed unless listed");
  await local.body?.cancel();
});

Deno.test("wait_process is bounded: timeoutMs 0 answers at once, and a long wait answers timedOut when the plane closes", async () => {
  await using t = await bootPlane();
  const { pid } = await parked(t);
  await using mcp = await connect(t, ADMIN);
  const now = await outcome(mcp.client, "wait_process", { pid, until: "terminal", timeoutMs: 0 });
  assert.deepEqual([now.outcome, now.value["timedOut"]], ["ok", true]);
  const long = outcome(mcp.client, "wait_process", { pid, until: "terminal", timeoutMs: 300_000 });
  t.plane.close();
  const closed = await long;
  assert.deepEqual(
    [
      closed.outcome,
      closed.value["timedOut"],
      (closed.value["process"] as { state: string }).state,
    ],
    ["ok", true, "waiting"],
  );
});

Deno.test("the hosts /mcp allows for a listening address: loopback, plus a specific address, never a wildcard", () => {
  assert.deepEqual(mcpAllowedHostsFor("127.0.0.1"), ["localhost", "127.0.0.1", "[::1]"]);
  assert.deepEqual(mcpAllowedHostsFor("0.0.0.0"), ["localhost", "127.0.0.1", "[::1]"]);
  assert.deepEqual(mcpAllowedHostsFor("::"), ["localhost", "127.0.0.1", "[::1]"]);
  assert.deepEqual(mcpAllowedHostsFor("192.168.1.5"), [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "192.168.1.5",
  ]);
  assert.deepEqual(mcpAllowedHostsFor("fd00::5"), ["localhost", "127.0.0.1", "[::1]", "[fd00::5]"]);
});
