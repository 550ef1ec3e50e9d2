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
import { api, startNode } from "./cluster_kit.ts";
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
