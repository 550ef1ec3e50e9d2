/**
 * Any kernel's API acts on the whole cluster (docs/cluster.md "Across
 * kernels"): kernels as subprocesses on one PostgreSQL schema, where kernel
 * B's API forks, grants, revokes, checkpoints, restores and exports a
 * process kernel A runs (forwarded to A, served there as the caller), reads
 * its grants, checkpoints and objects from the store, and streams its state
 * changes and human requests on `GET /v1/events`; an Idempotency-Key sent to
 * two kernels runs once; forwarded rows are kept tidy; the MCP tools reach
 * the cluster as the routes do. Skipped with a printed reason when PostgreSQL is
 * absent (see runtime/testing/postgres_testing.ts).
 */
import assert from "node:assert/strict";
import { CLUSTER_ADMIN, type Node, startNode, until } from "./cluster_kit.ts";
import { FrameReader } from "../api_helpers.ts";
import { PostgresStore } from "../../runtime/store/postgres_store.ts";
import { postgresTest } from "../postgres_kit.ts";
import { call, scripted } from "../helpers.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

function clusterTest(name: string, fn: (dir: string, url: string) => Promise<void>): void {
  postgresTest(name, "libos-reach-", fn);
}

/** A call of `node`'s API as the admin. */
async function req(
  node: Pick<Node, "url">,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
  // deno-lint-ignore no-explicit-any -- answers of many shapes, read field by field
): Promise<{ status: number; json: any; headers: Headers; bytes: Uint8Array }> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${CLUSTER_ADMIN}`,
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json = null;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    json = null;
  }
  return { status: res.status, json, headers: res.headers, bytes };
}

/** A process that writes a note, then sleeps for ten minutes (live all through a test). */
const NOTER = scripted([
  call("create_object", { name: "n", type: "note", payload: { text: "on a" } }),
  call("sleep", { ms: 600_000 }),
  call("exit", { result: null }),
], {
  tools: ["*"],
  capabilities: [{ resource: "fs:notes/**", rights: ["read"] }],
  forked: [call("sleep", { ms: 600_000 }), call("exit", { result: null })],
});

clusterTest(
  "kernel B's API forks, grants, revokes, checkpoints, restores and exports kernel A's process through A, as the caller; reads its grants, checkpoints and objects from the store; a keyed fork retried through A gives one child",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    await using b = await startNode(dir, url, "b");
    const spawned = await req(a, "POST", "/v1/processes", { body: { image: NOTER, goal: "note" } });
    assert.equal(spawned.status, 201, JSON.stringify(spawned.json));
    const pid: string = spawned.json.pid;
    const settled = await req(b, "GET", `/v1/processes/${pid}/wait?timeoutMs=20000`);
    assert.deepEqual([settled.json.timedOut, settled.json.process.state], [false, "waiting"]);

    // Reads through B, from the store: grants, the object it wrote.
    const grants = await req(b, "GET", `/v1/processes/${pid}/capabilities`);
    assert.equal(grants.status, 200, JSON.stringify(grants.json));
    assert.deepEqual(
      grants.json.capabilities.map((g: { resource: string }) => g.resource),
      (await req(a, "GET", `/v1/processes/${pid}/capabilities`)).json.capabilities.map((
        g: { resource: string },
      ) => g.resource),
    );
    const objects = await req(a, "GET", `/v1/processes/${pid}/objects`);
    const oid: string = objects.json.objects[0].oid;
    const object = await req(b, "GET", `/v1/objects/${oid}`);
    assert.equal(object.status, 200, JSON.stringify(object.json));
    assert.deepEqual(object.json, objects.json.objects[0]);
    assert.equal((await req(b, "GET", "/v1/objects/o_404")).status, 404);

    // A grant through B: applied by A, with B's caller as its issuer.
    const granted = await req(b, "POST", `/v1/processes/${pid}/capabilities`, {
      body: { resource: "fs:out/**", rights: ["write"] },
    });
    assert.equal(granted.status, 201, JSON.stringify(granted.json));
    assert.match(granted.json.issuedBy, /admin/);
    const onA = await req(a, "GET", `/v1/processes/${pid}/capabilities`);
    const grant = onA.json.capabilities.find((g: { id: string }) => g.id === granted.json.id);
    assert.ok(grant !== undefined, "A holds the grant B made");
    // A bad grant is refused by A's validation, answered by B.
    const bad = await req(b, "POST", `/v1/processes/${pid}/capabilities`, {
      body: { resource: 42 },
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.json));
    // Revoked through B: a stale If-Match is A's 412, the right one revokes.
    const stale = await req(b, "DELETE", `/v1/capabilities/${grant.id}`, {
      headers: { "if-match": '"0000"' },
    });
    assert.equal(stale.status, 412, JSON.stringify(stale.json));
    const revoked = await req(b, "DELETE", `/v1/capabilities/${grant.id}`, {
      headers: { "if-match": `"${grant.revision}"` },
    });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.deepEqual(revoked.json.revoked.map((g: { id: string }) => g.id), [grant.id]);
    assert.equal((await req(b, "DELETE", "/v1/capabilities/g_999999")).status, 404);

    // A checkpoint through B, listed through B from the store, restored and exported through B.
    const cp = await req(b, "POST", `/v1/processes/${pid}/checkpoints`, {
      body: { reason: "via b" },
    });
    assert.equal(cp.status, 201, JSON.stringify(cp.json));
    const listed = await req(b, "GET", `/v1/processes/${pid}/checkpoints`);
    assert.deepEqual(listed.json.checkpoints.map((c: { id: string }) => c.id), [cp.json.id]);
    const restored = await req(b, "POST", `/v1/checkpoints/${cp.json.id}/restore`, {});
    assert.equal(restored.status, 200, JSON.stringify(restored.json));
    assert.equal(restored.json.pid, pid);
    assert.ok(restored.headers.get("etag") !== null);
    const bundle = await req(b, "GET", `/v1/checkpoints/${cp.json.id}/bundle`);
    assert.equal(bundle.status, 200);
    assert.equal(bundle.headers.get("content-type"), "application/octet-stream");
    const direct = await req(a, "GET", `/v1/checkpoints/${cp.json.id}/bundle`);
    assert.equal(bundle.bytes.length, direct.bytes.length);

    // An operator's ceiling goes with its request: A refuses a fork above it
    // (403 naming the ceiling) and audits the refusal as that token's; a
    // viewer is refused by B's own authorization.
    const minted = await req(b, "POST", "/v1/tokens", {
      body: {
        role: "operator",
        name: "narrow",
        ceiling: [{ resource: "fs:notes/**", rights: ["read"] }],
      },
    });
    assert.equal(minted.status, 201, JSON.stringify(minted.json));
    const above = await req(b, "POST", `/v1/processes/${pid}/fork`, {
      body: { capabilities: [{ resource: "fs:out/**", rights: ["write"] }] },
      headers: { authorization: `Bearer ${minted.json.token}` },
    });
    assert.equal(above.status, 403, JSON.stringify(above.json));
    assert.equal(above.json.error.code, "EPERM");
    assert.match(above.json.error.message, /ceiling \(fs:notes\/\*\*:read\)/);
    const refused = await req(a, "GET", "/v1/audit?action=authority.refuse");
    assert.deepEqual(refused.json.records.map((r: { actor: string }) => r.actor), [
      "token:narrow",
    ]);
    const grantAsOperator = await req(b, "POST", `/v1/processes/${pid}/capabilities`, {
      body: { resource: "fs:notes/**", rights: ["read"] },
      headers: { authorization: `Bearer ${minted.json.token}` },
    });
    assert.equal(grantAsOperator.status, 403, JSON.stringify(grantAsOperator.json));

    // A keyed fork through B; its retry through A and through B answer the same child.
    const fork = (node: Node) =>
      req(node, "POST", `/v1/processes/${pid}/fork`, {
        body: { goal: "child" },
        headers: { "idempotency-key": "fork-once" },
      });
    const first = await fork(b);
    assert.equal(first.status, 201, JSON.stringify(first.json));
    assert.equal(first.headers.get("idempotent-replayed"), null);
    const child: string = first.json.pid;
    assert.equal((await req(a, "GET", `/v1/processes/${child}`)).json.parentPid, pid);
    for (const node of [a, b]) {
      const again = await fork(node);
      assert.equal(again.status, 201, JSON.stringify(again.json));
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.equal(again.json.pid, child);
    }
    const children = await req(b, "GET", `/v1/processes?parent=${pid}`);
    assert.deepEqual(children.json.processes.map((p: { pid: string }) => p.pid), [child]);
  },
);

/** Reads frames until `match`, failing after `ms`. */
async function frameUntil(
  s: FrameReader,
  match: (f: { event: string; data: unknown }) => boolean,
  what: string,
  ms = 20_000,
): Promise<{ event: string; data: unknown }[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const seen: { event: string; data: unknown }[] = [];
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void s.cancel();
      reject(new Error(`no ${what} on the stream within ${ms} ms; saw ${JSON.stringify(seen)}`));
    }, ms);
  });
  try {
    return await Promise.race([s.until((f) => (seen.push(f), match(f)), 2000), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

clusterTest(
  "GET /v1/events on kernel B carries the state changes and human requests of a process kernel A runs",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    await using b = await startNode(dir, url, "b");
    const res = await fetch(`${b.url}/v1/events?types=process,human`, {
      headers: { authorization: `Bearer ${CLUSTER_ADMIN}` },
    });
    assert.equal(res.status, 200);
    const s = new FrameReader(res);
    assert.equal((await s.next())?.event, "ready");
    const spawned = await req(a, "POST", "/v1/processes", {
      body: {
        image: scripted([call("ask_human", { question: "go?" }), call("exit", { result: null })], {
          capabilities: [{ resource: "human:operator", rights: ["ask"] }],
        }),
        goal: "ask",
      },
    });
    assert.equal(spawned.status, 201, JSON.stringify(spawned.json));
    const pid: string = spawned.json.pid;
    const asked = await frameUntil(
      s,
      (f) => f.event === "human" && (f.data as { pid: string }).pid === pid,
      "human request of A's process",
    );
    const request = asked.at(-1)!.data as { id: string; state: string; kind: string };
    assert.equal(request.state, "pending");
    const states = asked.filter((f) => f.event === "process")
      .map((f) => f.data as { pid: string; state: string; kernel: string })
      .filter((d) => d.pid === pid);
    assert.ok(states.length > 0, "no process event of A's process before its question");
    const aId = (await req(a, "GET", "/v1/cluster")).json.self;
    assert.ok(states.every((d) => d.kernel === aId), JSON.stringify(states));
    // Answered through B (forwarded to A): the decision and the exit come back on B's stream.
    const full = await req(b, "GET", `/v1/human/${request.id}`);
    const decided = await req(b, "POST", `/v1/human/${request.id}`, {
      body: { decision: "answer", answer: "yes", previewSha256: full.json.previewSha256 },
    });
    assert.equal(decided.status, 200, JSON.stringify(decided.json));
    const rest = await frameUntil(
      s,
      (f) =>
        f.event === "process" && (f.data as { pid: string }).pid === pid &&
        (f.data as { state: string }).state === "exited",
      "exit of A's process",
    );
    assert.ok(
      rest.some((f) =>
        f.event === "human" && (f.data as { id: string; state: string }).id === request.id &&
        (f.data as { state: string }).state !== "pending"
      ),
      JSON.stringify(rest),
    );
    const exited = rest.at(-1)!.data as { from: string | null };
    assert.notEqual(exited.from, "exited");
    await s.cancel();
  },
);

clusterTest(
  "an Idempotency-Key sent to kernel C while kernel B still runs it (forwarded to a stopped A) is 409 EBUSY, then replays B's answer; one child",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a", { leaseTtl: "60s" });
    await using b = await startNode(dir, url, "b", { leaseTtl: "60s" });
    await using c = await startNode(dir, url, "c", { leaseTtl: "60s" });
    const spawned = await req(a, "POST", "/v1/processes", { body: { image: NOTER, goal: "p" } });
    assert.equal(spawned.status, 201, JSON.stringify(spawned.json));
    const pid: string = spawned.json.pid;
    const w = await req(a, "GET", `/v1/processes/${pid}/wait?timeoutMs=20000`);
    assert.equal(w.json.process.state, "waiting");
    const fork = (node: Node) =>
      req(node, "POST", `/v1/processes/${pid}/fork`, {
        body: { goal: "child" },
        headers: { "idempotency-key": "fork-race" },
      });
    await using store = await PostgresStore.open(url, { readOnly: true });
    a.signal("SIGSTOP");
    let first: ReturnType<typeof fork> | null = null;
    try {
      first = fork(b);
      await until("B claims the key", async () => {
        const r = await store.readCommand("admin:fork-race");
        return r?.state === "running";
      }, { timeoutMs: 8000 });
      const busy = await fork(c);
      assert.equal(busy.status, 409, JSON.stringify(busy.json));
      assert.equal(busy.json.error.code, "EBUSY");
    } finally {
      a.signal("SIGCONT");
    }
    const answered = await first;
    assert.equal(answered.status, 201, JSON.stringify(answered.json));
    const again = await fork(c);
    assert.equal(again.status, 201, JSON.stringify(again.json));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.json.pid, answered.json.pid);
    const children = await req(c, "GET", `/v1/processes?parent=${pid}`);
    assert.equal(children.json.processes.length, 1);
  },
);

clusterTest(
  "a forwarded command taken by a kernel that stopped before answering is answered EUNKNOWN by a live kernel's sweep; old rows are purged",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    await using store = await PostgresStore.open(url);
    const queue = store.forwarded;
    const gone = await store.registerKernel({ host: "h", pid: 1, ttlMs: 60_000 });
    const row = (id: string, createdAt: number) => ({
      id,
      owner: gone.kernel,
      pid: null,
      kind: "spawn",
      payload: {},
      state: "pending" as const,
      result: null,
      createdAt,
    });
    await queue.put(row("fw_orphan", Date.now()));
    assert.equal(await queue.take("fw_orphan", gone.kernel), true);
    await queue.put(row("fw_ancient", 1));
    await store.stopKernel(gone);
    await until(
      "a's sweep answers the orphan",
      async () => (await queue.read("fw_orphan"))?.state === "done",
      { timeoutMs: 20_000 },
    );
    const answered = (await queue.read("fw_orphan"))?.result as { ok: boolean; code: string };
    assert.deepEqual([answered.ok, answered.code], [false, "EUNKNOWN"]);
    await until(
      "a's sweep purges the ancient row",
      async () => (await queue.read("fw_ancient")) === null,
      { timeoutMs: 20_000 },
    );
    // The orphan was answered just now: kept for its sender to read.
    assert.equal((await queue.read("fw_orphan"))?.state, "done");
    assert.match(a.output(), /API on/);
  },
);

/** An MCP client of `node`'s `/mcp` as the admin. */
async function mcpClient(node: Node): Promise<Client & AsyncDisposable> {
  const client = new Client({ name: "libos-cluster-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${CLUSTER_ADMIN}` } },
  });
  await client.connect(transport);
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

/** A tool call's structured answer, or its error code. */
// deno-lint-ignore no-explicit-any -- answers of many shapes, read field by field
async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const r = await client.callTool({ name, arguments: args });
  const value = (r.structuredContent ?? {}) as Record<string, unknown>;
  if (r.isError !== true) return value;
  return { errorCode: (value["error"] as { code: string }).code };
}

clusterTest(
  "the MCP tools of kernel B list, answer and signal kernel A's processes through A, its resources list and read them; spawn_process is placed",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    const registered = await req(a, "POST", "/v1/images", {
      body: scripted([call("sleep", { ms: 600_000 }), call("exit", { result: null })]),
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.json));
    const asker = await req(a, "POST", "/v1/processes", {
      body: {
        image: scripted([
          call("create_object", { name: "n", type: "note", payload: { text: "on a" } }),
          call("ask_human", { question: "go?" }),
          call("exit", { result: null }),
        ], { tools: ["*"], capabilities: [{ resource: "human:operator", rights: ["ask"] }] }),
        goal: "ask",
      },
    });
    const sleeper = await req(a, "POST", "/v1/processes", {
      body: { image: registered.json.id, goal: "sleep" },
    });
    assert.deepEqual([asker.status, sleeper.status], [201, 201]);
    for (const pid of [asker.json.pid, sleeper.json.pid]) {
      const w = await req(a, "GET", `/v1/processes/${pid}/wait?timeoutMs=20000`);
      assert.equal(w.json.process.state, "waiting");
    }
    await using b = await startNode(dir, url, "b");
    await using onA = await mcpClient(a);
    await using onB = await mcpClient(b);

    // Placed: A runs two live processes, B none; A's spawn_process lands on B.
    const spawned = await tool(onA, "spawn_process", { image: registered.json.id, goal: "mcp" });
    assert.ok(spawned.pid !== undefined, JSON.stringify(spawned));
    const bId = (await req(b, "GET", "/v1/cluster")).json.self;
    const view = (await req(b, "GET", "/v1/cluster")).json;
    assert.equal(
      view.kernels.find((k: { id: string }) => k.id === bId).liveProcesses,
      1,
      JSON.stringify(view),
    );

    const listed = await tool(onB, "list_human_requests", { state: "pending" });
    assert.deepEqual(listed.requests.map((r: { pid: string }) => r.pid), [asker.json.pid]);
    const r = listed.requests[0];
    const stale = await tool(onB, "answer_human_request", {
      id: r.id,
      decision: "answer",
      answer: "yes",
      previewSha256: r.previewSha256,
      revision: "0000",
    });
    assert.equal(stale.errorCode, "EREVISION");
    const answered = await tool(onB, "answer_human_request", {
      id: r.id,
      decision: "answer",
      answer: "yes",
      previewSha256: r.previewSha256,
      revision: r.revision,
    });
    assert.equal(answered.state, "answered", JSON.stringify(answered));
    assert.match(answered.decidedBy, /^token:/);
    const killed = await tool(onB, "signal_process", { pid: sleeper.json.pid, signal: "kill" });
    assert.equal(killed.state, "killed", JSON.stringify(killed));
    assert.equal((await req(a, "GET", `/v1/processes/${sleeper.json.pid}`)).json.state, "killed");

    // Resources: A's processes' journals are listed on B, A's object read through B.
    const resources = (await onB.listResources()).resources.map((x: { uri: string }) => x.uri);
    assert.ok(resources.includes(`libos://journal/${asker.json.pid}`), JSON.stringify(resources));
    const objects = await req(a, "GET", `/v1/processes/${asker.json.pid}/objects`);
    const oid = objects.json.objects[0].oid;
    const read = await onB.readResource({ uri: `libos://objects/${oid}` });
    const content = read.contents[0] as { text: string };
    assert.deepEqual(JSON.parse(content.text).payload, { text: "on a" });
  },
);
