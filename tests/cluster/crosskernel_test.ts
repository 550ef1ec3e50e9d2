/**
 * Two kernels as subprocesses on one PostgreSQL schema, working as one
 * system: a message sent on one kernel wakes its receiver on the other at once
 * (LISTEN/NOTIFY; the CLI's kernels do not poll), each message taken exactly
 * once; either kernel's API lists, reads, waits on, signals and answers the
 * processes the other owns. Skipped with a printed reason when PostgreSQL is
 * absent (see runtime/testing/postgres_testing.ts).
 */
import assert from "node:assert/strict";
import { withTemp } from "../cli_kit.ts";
import { join } from "node:path";
import { api, CLUSTER_ADMIN, startNode, until } from "./cluster_kit.ts";
import { PostgresStore } from "../../runtime/store/postgres_store.ts";
import {
  dropTestSchema,
  freshSchemaName,
  skipPostgres,
  testPostgresUrl,
} from "../../runtime/testing/postgres_testing.ts";
import { call, scripted } from "../helpers.ts";

const ignore = await skipPostgres();

function clusterTest(name: string, fn: (dir: string, url: string) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const schema = freshSchemaName();
      try {
        await withTemp("libos-crosskernel-", (dir) => fn(dir, testPostgresUrl(schema)));
      } finally {
        await dropTestSchema(schema);
      }
    },
  });
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
