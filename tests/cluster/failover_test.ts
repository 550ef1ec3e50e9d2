/**
 * Three (or two) kernels as subprocesses on one PostgreSQL schema: a kernel
 * killed mid-run has its processes adopted and finished by the others, with
 * no effect lost or done twice; a kernel paused past its lease is fenced
 * and does nothing more; racing adopters each get disjoint processes. Each
 * test has its own schema, dropped afterwards; skipped with a printed reason
 * when PostgreSQL is absent (see runtime/testing/postgres_testing.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { api, type Node, startNode, until } from "./cluster_kit.ts";
import { auditPages, verifyAudit } from "../../runtime/audit/audit_chain.ts";
import { PostgresStore } from "../../runtime/store/postgres_store.ts";
import { hasCode } from "../../runtime/errors.ts";
import { processRecord } from "../../runtime/testing/store_records.ts";
import { postgresTest } from "../postgres_kit.ts";

function clusterTest(name: string, fn: (dir: string, url: string) => Promise<void>): void {
  postgresTest(name, "libos-cluster-", fn);
}

/** An agent that writes a file, creates an object, sleeps, writes a second file and exits. */
function agent(i: number, sleepMs: number) {
  const call = (tool: string, args: Record<string, unknown>) => ({ tool, args });
  return {
    id: `agent-${i}`,
    name: "cluster agent",
    version: "1",
    model: {
      provider: "scripted",
      steps: [
        call("write_text_file", { path: `out/${i}.txt`, text: `agent ${i}\n` }),
        call("create_object", { name: `o${i}`, type: "note", payload: { text: `agent ${i}` } }),
        call("sleep", { ms: sleepMs }),
        call("write_text_file", { path: `out/${i}.done`, text: `done ${i}\n` }),
        call("exit", { result: { agent: i } }),
      ],
    },
    tools: ["*"],
    capabilities: [{ resource: "fs:out/**", rights: ["write", "read"] }],
  };
}

/** Spawns `count` agents on `node`; resolves to their pids. */
async function spawnAgents(node: Node, count: number, sleepMs: number): Promise<string[]> {
  const pids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await api(node, "/v1/processes", { image: agent(i, sleepMs), goal: `agent ${i}` });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    pids.push(r.json.pid);
  }
  return pids;
}

/** What the store holds about the agents once they are done: checked whole. */
async function checkFinished(store: PostgresStore, dir: string, pids: string[]): Promise<void> {
  const snap = await store.load();
  const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
  for (const [i, pid] of pids.entries()) {
    const p = byPid.get(pid)!;
    assert.equal(p.state, "exited", `${pid}: ${p.state} ${p.reason}`);
    assert.deepEqual(p.result, { agent: i });
    assert.equal(await Deno.readTextFile(join(dir, "out", `${i}.txt`)), `agent ${i}\n`);
    assert.equal(await Deno.readTextFile(join(dir, "out", `${i}.done`)), `done ${i}\n`);
    // One object, one version: the create was not repeated.
    const objects = snap.objects.filter((o) => o.name === `o${i}`);
    assert.equal(objects.length, 1, `o${i}`);
    assert.equal((await store.readObjectVersions(objects[0]!.oid)).length, 1);
    // Each syscall completed once: one result per call in the journal.
    const journal = await store.readJournal(pid);
    const calls = journal.filter((e) => e.kind === "syscall").map((e) => `${e.callId}#${e.sys}`);
    assert.equal(new Set(calls).size, calls.length, `${pid} repeated a call: ${calls}`);
  }
  const verified = await verifyAudit(auditPages(store), { chains: "many" });
  assert.ok(verified.ok, JSON.stringify(verified));
}

clusterTest(
  "three kernels on one PostgreSQL: one is killed with SIGKILL mid-run, the other two adopt its processes and finish them, nothing lost or done twice, audit verifies",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    // Spawned while a is alone: placement puts every agent on a. Each sleeps
    // long enough for the last to be spawned and asleep on a busy machine.
    const pids = await spawnAgents(a, 12, 6_000);
    await using b = await startNode(dir, url, "b");
    await using c = await startNode(dir, url, "c");
    const cluster = await api(b, "/v1/cluster");
    assert.equal(cluster.status, 200);
    assert.equal(
      cluster.json.kernels.filter((k: { state: string }) => k.state === "alive").length,
      3,
    );
    // Mid-run: every agent wrote its first file and object and sleeps.
    await until("every agent sleeps on a", async () => {
      const list = await api(a, "/v1/processes");
      return list.json.processes.filter((p: { state: string }) => p.state === "waiting").length ===
        12;
    });
    a.signal("SIGKILL");
    await a.status;
    await using store = await PostgresStore.open(url, { readOnly: true });
    await until("the survivors finished every agent", async () => {
      const snap = await store.load();
      return pids.every((pid) => snap.processes.find((p) => p.pid === pid)?.state === "exited");
    }, { timeoutMs: 30_000 });
    await checkFinished(store, dir, pids);
    // Each agent was adopted exactly once, by b or c.
    const adopted = await store.readAudit({ action: "process.adopted", limit: 10_000 });
    const adoptedPids = adopted.map((r) => JSON.parse(r.body).pid as string).sort();
    assert.deepEqual(adoptedPids, [...pids].sort());
    const view = (await api(c, "/v1/cluster")).json;
    const states = Object.fromEntries(
      view.kernels.map((k: { id: string; state: string }) => [k.id, k.state]),
    );
    assert.equal(Object.values(states).filter((s) => s === "dead").length, 1);
    assert.equal(view.self, /libos: kernel up \((k_\d+)\)/.exec(c.output())?.[1]);
  },
);

clusterTest(
  "a kernel paused past its lease (SIGSTOP) is fenced when it wakes (SIGCONT): the other finishes its processes, and it exits with status 3 having done nothing more",
  async (dir, url) => {
    await using a = await startNode(dir, url, "a");
    const pids = await spawnAgents(a, 4, 3_000);
    await using b = await startNode(dir, url, "b");
    await until("every agent sleeps on a", async () => {
      const list = await api(a, "/v1/processes");
      return list.json.processes.filter((p: { state: string }) => p.state === "waiting").length ===
        4;
    });
    a.signal("SIGSTOP");
    await using store = await PostgresStore.open(url, { readOnly: true });
    await until("b finished every agent", async () => {
      const snap = await store.load();
      return pids.every((pid) => snap.processes.find((p) => p.pid === pid)?.state === "exited");
    }, { timeoutMs: 30_000 });
    await checkFinished(store, dir, pids);
    // Whatever a does after it wakes would show here: the files are gone.
    for (let i = 0; i < 4; i++) await Deno.remove(join(dir, "out", `${i}.done`));
    const before = await store.load();
    a.signal("SIGCONT");
    const status = await a.status;
    assert.equal(status.code, 3, a.output());
    assert.match(a.output(), /fenced/);
    for (let i = 0; i < 4; i++) {
      assert.equal(await Deno.stat(join(dir, "out", `${i}.done`)).catch(() => null), null);
    }
    const after = await store.load();
    assert.deepEqual(after.journalHeads, before.journalHeads);
    assert.deepEqual(after.processes, before.processes);
    void b;
  },
);

clusterTest(
  "kernels racing to declare a dead kernel and adopt its processes: exactly one declares it, each process goes to exactly one adopter, and the loser's write to a process it lost is fenced",
  async (_dir, url) => {
    await using s1 = await PostgresStore.open(url);
    await using s2 = await PostgresStore.open(url);
    await using s3 = await PostgresStore.open(url);
    const dead = await s1.registerKernel({ host: "h", pid: 1, ttlMs: 30 });
    const pids = Array.from({ length: 200 }, (_, i) => `p_${i + 1}`);
    await s1.apply(pids.map((pid) => ({ kind: "process.put", process: processRecord(pid) })), {
      fence: dead,
    });
    const k2 = await s2.registerKernel({ host: "h", pid: 2, ttlMs: 60_000 });
    const k3 = await s3.registerKernel({ host: "h", pid: 3, ttlMs: 60_000 });
    let declared: boolean[] = [];
    await until("the lease expired and one kernel declared it dead", async () => {
      declared = declared.concat(
        await Promise.all([
          s2.declareDead(dead.kernel, dead.epoch),
          s3.declareDead(dead.kernel, dead.epoch),
        ]),
      );
      return declared.includes(true);
    }, { timeoutMs: 5_000 });
    assert.equal(declared.filter((d) => d).length, 1);
    const claimAll = async (store: PostgresStore, fence: typeof k2) => {
      const got: string[] = [];
      for (let i = 0; i < 100; i++) {
        const chunk = await store.claimProcesses(fence, { limit: 16 });
        if (chunk.length === 0) break;
        for (const c of chunk) {
          assert.equal(c.from, dead.kernel);
          assert.equal(c.clean, false);
        }
        got.push(...chunk.map((c) => c.pid));
      }
      return got;
    };
    const [got2, got3] = await Promise.all([claimAll(s2, k2), claimAll(s3, k3)]);
    assert.deepEqual([...got2, ...got3].sort(), [...pids].sort());
    assert.equal(got2.filter((pid) => got3.includes(pid)).length, 0);
    // The dead kernel's writes are fenced; so is a live kernel's put of a
    // process another kernel owns.
    await assert.rejects(
      s1.apply([{ kind: "process.put", process: processRecord(pids[0]!) }], { fence: dead }),
      (e) => hasCode(e, "EFENCED"),
    );
    const other = got2.length > 0 ? got2[0]! : got3[0]!;
    const loser = got2.includes(other) ? { store: s3, fence: k3 } : { store: s2, fence: k2 };
    await assert.rejects(
      loser.store.apply([{ kind: "process.put", process: processRecord(other) }], {
        fence: loser.fence,
      }),
      (e) => hasCode(e, "EFENCED"),
    );
    const view = await s1.listKernels();
    const counts = Object.fromEntries(view.kernels.map((k) => [k.id, k.processes]));
    assert.equal(counts[dead.kernel], 0);
    assert.equal(counts[k2.kernel]! + counts[k3.kernel]!, 200);
  },
);
