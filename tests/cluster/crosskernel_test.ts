/**
 * Two kernels as subprocesses on one PostgreSQL schema, working as one
 * system: a message sent on one kernel wakes its receiver on the other at once
 * (LISTEN/NOTIFY; the CLI's kernels do not poll), each message taken exactly
 * once; either kernel's API lists, reads, waits on, signals and answers the
 * processes the other owns. Skipped with a printed reason when PostgreSQL is
 * absent (see runtime/testing/postgres_testing.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { api, CLUSTER_ADMIN, type Node, startNode, until } from "./cluster_kit.ts";
import { PostgresStore } from "../../runtime/store/postgres_store.ts";
import { postgresTest } from "../postgres_kit.ts";
import { call, scripted } from "../helpers.ts";

function clusterTest(name: string, fn: (dir: string, url: string) => Promise<void>): void {
  postgresTest(name, "libos-crosskernel-", fn);
}

const SEND_TO_PROCS = [{ resource: "mbox:proc/*", rights: ["send"] }];

clusterTest(
  "a process on kernel A sends to a process on kernel B: every message is delivered exactly once, woken by the notifier",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    await using b = await startNode(dir, url, "b");
    const count = 20;
    const rx = await api(b, "/v1/processes", {
      image: scripted([
        ...Array.from({ length: count }, () => call("receive_message", {})),
        call("exit", { result: null }),
      ]),
      goal: "receive",
    });
    assert.equal(rx.status, 201, JSON.stringify(rx.json));
    const rxPid: string = rx.json.pid;
    // The receiver parks on its mailbox on B before anything is sent.
    const parked = await api(b, `/v1/processes/${rxPid}/wait?timeoutMs=20000`);
    assert.equal(parked.json.process.state, "waiting");
    const bodies = Array.from({ length: count }, (_, i) => ({ n: i }));
    const tx = await api(a, "/v1/processes", {
      image: scripted([
        ...bodies.map((body) => call("send_message", { to: rxPid, type: "json", body })),
        call("exit", { result: null }),
      ], { capabilities: SEND_TO_PROCS }),
      goal: "send",
    });
    assert.equal(tx.status, 201, JSON.stringify(tx.json));
    const started = Date.now();
    const done = await api(b, `/v1/processes/${rxPid}/wait?until=terminal&timeoutMs=20000`);
    assert.equal(done.json.timedOut, false, "the receiver on B never got A's messages");
    assert.equal(done.json.process.state, "exited");
    assert.ok(Date.now() - started < 15_000);

    await using store = await PostgresStore.open(url, { readOnly: true });
    const got: unknown[] = [];
    for (const e of await store.readJournal(rxPid)) {
      if (e.kind === "tool.end" && e.data["name"] === "receive_message") {
        const r = e.data["result"] as { ok: boolean; value: { message: { body: unknown } } };
        assert.ok(r.ok, JSON.stringify(r));
        got.push(r.value.message.body);
      }
    }
    // Each message once, none twice, none lost (the order is the store's).
    assert.deepEqual(
      got.map((b) => (b as { n: number }).n).sort((x, y) => x - y),
      bodies.map((b) => b.n),
    );
    assert.deepEqual(await store.nextMessages(`mbox:proc/${rxPid}`, 10), []);
  },
);

clusterTest(
  "kernel B's API lists, reads, waits on, answers and signals a process kernel A runs; the owner applies each with the usual checks",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    await using b = await startNode(dir, url, "b");
    const spawned = await api(a, "/v1/processes", {
      image: scripted([
        call("write_text_file", { path: "out/a.txt", text: "A" }),
        call("sleep", { ms: 600_000 }),
        call("exit", { result: null }),
      ], { capabilities: [{ resource: "fs:out/**", rights: ["write"], effect: "ask" }] }),
      goal: "ask, then sleep",
    });
    assert.equal(spawned.status, 201, JSON.stringify(spawned.json));
    const pid: string = spawned.json.pid;
    const settled = await api(b, `/v1/processes/${pid}/wait?timeoutMs=20000`);
    assert.equal(settled.status, 200, JSON.stringify(settled.json));
    assert.deepEqual([settled.json.timedOut, settled.json.process.state], [false, "waiting"]);
    const listed = await api(b, "/v1/processes");
    assert.deepEqual(listed.json.processes.map((p: { pid: string }) => p.pid), [pid]);
    assert.equal((await api(b, `/v1/processes/${pid}`)).json.wait.kind, "human");
    const journal = await api(b, `/v1/processes/${pid}/journal`);
    assert.equal(journal.status, 200);
    assert.ok(journal.json.entries.length > 0);
    assert.equal((await api(b, "/v1/processes/p_999999")).status, 404);

    const pending = await api(b, "/v1/human?state=pending");
    assert.equal(pending.json.requests.length, 1);
    const [r] = pending.json.requests;
    assert.equal(r.pid, pid);
    assert.equal((await api(b, `/v1/human/${r.id}`)).json.revision, r.revision);
    // A stale If-Match is refused by the owner: 412 with the current request, nothing decided.
    const stale = await fetch(`${b.url}/v1/human/${r.id}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${CLUSTER_ADMIN}`,
        "content-type": "application/json",
        "if-match": '"0000"',
      },
      body: JSON.stringify({ previewSha256: r.previewSha256, decision: "approve" }),
    });
    assert.equal(stale.status, 412, await stale.text());
    const wrong = await api(b, `/v1/human/${r.id}`, {
      previewSha256: "0".repeat(64),
      decision: "approve",
    });
    assert.equal(wrong.status, 409, JSON.stringify(wrong.json));
    assert.equal(wrong.json.error.code, "ESTALE");
    const decided = await api(b, `/v1/human/${r.id}`, {
      previewSha256: r.previewSha256,
      decision: "approve",
    });
    assert.equal(decided.status, 200, JSON.stringify(decided.json));
    assert.equal(decided.json.state, "approved");
    assert.match(decided.json.decidedBy, /^token:/);
    assert.equal((await api(a, `/v1/human/${r.id}`)).json.state, "approved");
    await until("the approved write lands", async () => {
      try {
        return await Deno.readTextFile(join(dir, "out/a.txt")) === "A";
      } catch {
        return false;
      }
    });

    // A long poll on B for A's process wakes when the signal (through B) ends it.
    const ended = api(b, `/v1/processes/${pid}/wait?until=terminal&timeoutMs=20000`);
    const killed = await api(b, `/v1/processes/${pid}/signal`, { signal: "kill" });
    assert.equal(killed.status, 200, JSON.stringify(killed.json));
    assert.equal(killed.json.state, "killed");
    assert.match(killed.json.reason, /^killed by token:/);
    const waited = await ended;
    assert.deepEqual([waited.json.timedOut, waited.json.process.state], [false, "killed"]);
    assert.equal((await api(a, `/v1/processes/${pid}`)).json.state, "killed");
    // Signalling it again is the owner's refusal, answered by B.
    const again = await api(b, `/v1/processes/${pid}/signal`, { signal: "kill" });
    assert.equal(again.status, 409, JSON.stringify(again.json));
  },
);

/** A process that sleeps for ten minutes: live all through a test. */
const SLEEPER = scripted([call("sleep", { ms: 600_000 }), call("exit", { result: null })]);

/** Live processes per kernel id, from `node`'s `GET /v1/cluster`. */
async function loads(node: Node): Promise<Record<string, number>> {
  const view = (await api(node, "/v1/cluster")).json;
  return Object.fromEntries(
    view.kernels.filter((k: { state: string }) => k.state === "alive")
      .map((k: { id: string; liveProcesses: number }) => [k.id, k.liveProcesses]),
  );
}

/** A spawn through `node` with an Idempotency-Key. */
async function keyedSpawn(node: Node, key: string) {
  const res = await fetch(`${node.url}/v1/processes`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${CLUSTER_ADMIN}`,
      "content-type": "application/json",
      "idempotency-key": key,
    },
    body: JSON.stringify({ image: SLEEPER, goal: "keyed" }),
  });
  return {
    status: res.status,
    replayed: res.headers.get("idempotent-replayed"),
    json: await res.json(),
  };
}

clusterTest(
  "placement: five spawns through kernel A, which runs more processes than B, all land on B; either lists them; an Idempotency-Key still gives one process",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    // Alone, A places every spawn on itself.
    for (let i = 0; i < 6; i++) {
      const r = await api(a, "/v1/processes", { image: SLEEPER, goal: `on a ${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    await using b = await startNode(dir, url, "b");
    const aId = (await api(a, "/v1/cluster")).json.self;
    const bId = (await api(b, "/v1/cluster")).json.self;
    await until("a's six processes count as live", async () => (await loads(b))[aId] === 6);
    assert.equal((await loads(a))[bId], 0);

    const placed: string[] = [];
    const noting = scripted([
      call("create_object", { name: "n", type: "note", payload: { text: "on b" } }),
      call("sleep", { ms: 600_000 }),
      call("exit", { result: null }),
    ], { tools: ["*"] });
    for (let i = 0; i < 4; i++) {
      const image = i === 0 ? noting : SLEEPER;
      const r = await api(a, "/v1/processes", { image, goal: `placed ${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.equal(r.json.process.goal, `placed ${i}`);
      placed.push(r.json.pid);
    }
    const keyed = await keyedSpawn(a, "spawn-once");
    assert.equal(keyed.status, 201, JSON.stringify(keyed.json));
    assert.equal(keyed.replayed, null);
    placed.push(keyed.json.pid);
    // The retries, through either kernel, answer the first spawn again.
    for (const node of [a, b]) {
      const again = await keyedSpawn(node, "spawn-once");
      assert.equal(again.status, 201, JSON.stringify(again.json));
      assert.equal(again.replayed, "true");
      assert.equal(again.json.pid, keyed.json.pid);
    }
    assert.deepEqual(await loads(a), { [aId]: 6, [bId]: 5 });
    // B runs them: its own list holds them as it runs them, A's reads them from the store.
    for (const pid of placed) {
      const w = await api(b, `/v1/processes/${pid}/wait?timeoutMs=20000`);
      assert.deepEqual([w.json.timedOut, w.json.process.state], [false, "waiting"]);
    }
    for (const node of [a, b]) {
      const listed = (await api(node, "/v1/processes")).json.processes.map((p: { pid: string }) =>
        p.pid
      );
      assert.equal(listed.length, 11);
      for (const pid of placed) assert.ok(listed.includes(pid), `${node.name} lists ${pid}`);
    }
    // The object B's process made, read through A (from the store) and through B.
    for (const node of [a, b]) {
      const objects = await api(node, `/v1/processes/${placed[0]}/objects`);
      assert.equal(objects.status, 200, JSON.stringify(objects.json));
      assert.deepEqual(
        objects.json.objects.map((o: { name: string; payload: unknown }) => [o.name, o.payload]),
        [["n", { text: "on b" }]],
      );
    }
    // One process for the key, however many retries.
    const goals = (await api(b, "/v1/processes")).json.processes.map((p: { goal: string }) =>
      p.goal
    );
    assert.equal(goals.filter((g: string) => g === "keyed").length, 1);
  },
);

clusterTest(
  "placement: a spawn placed on a kernel that stopped before taking it times out with 504, and no kernel applies it afterwards",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a", { leaseTtl: "30s" });
    const r = await api(a, "/v1/processes", { image: SLEEPER, goal: "on a" });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    await using b = await startNode(dir, url, "b", { leaseTtl: "30s" });
    const bId = (await api(b, "/v1/cluster")).json.self;
    b.signal("SIGSTOP");
    const timedOut = await api(a, "/v1/processes", { image: SLEEPER, goal: "lost" });
    assert.equal(timedOut.status, 504, JSON.stringify(timedOut.json));
    assert.equal(timedOut.json.error.code, "ETIMEDOUT");
    const id = /command (fw_[\w-]+) expired/.exec(timedOut.json.error.message)?.[1];
    assert.ok(id !== undefined, timedOut.json.error.message);
    assert.match(timedOut.json.error.message, new RegExp(`on kernel ${bId}.*nothing was spawned`));
    b.signal("SIGCONT");
    // B, awake, spawns (its own, the least loaded) but never takes the expired row.
    const next = await api(b, "/v1/processes", { image: SLEEPER, goal: "after" });
    assert.equal(next.status, 201, JSON.stringify(next.json));
    await using store = await PostgresStore.open(url, { readOnly: true });
    assert.equal((await store.forwarded.read(id))?.state, "expired");
    const goals = (await store.readProcesses()).map((p) => p.goal);
    assert.deepEqual(goals.sort(), ["after", "on a"]);
  },
);
