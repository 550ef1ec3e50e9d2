/**
 * Failover probe: three kernels on a fresh PostgreSQL schema, N sleeping
 * processes on the first, kill -9 it, and time until the others adopted and
 * resumed them all. `deno run -A bench/failover_probe.ts [N]` (default 1000).
 * Not yet a section of bench/run.ts.
 *
 * @module
 */
import { api, startNode, until } from "../tests/cluster/cluster_kit.ts";
import { PostgresStore } from "../runtime/store/postgres_store.ts";
import {
  dropTestSchema,
  freshSchemaName,
  testPostgresUrl,
} from "../runtime/testing/postgres_testing.ts";
const N = Number(Deno.args[0] ?? 1000);
const schema = freshSchemaName();
const url = testPostgresUrl(schema);
const dir = await Deno.makeTempDir();
try {
  const a = await startNode(dir, url, "a", { leaseTtl: "2s" });
  const b = await startNode(dir, url, "b", { leaseTtl: "2s" });
  const c = await startNode(dir, url, "c", { leaseTtl: "2s" });
  const image = {
    id: "sleeper",
    name: "s",
    version: "1",
    model: {
      provider: "scripted",
      steps: [{ tool: "sleep", args: { ms: 600000 } }, { tool: "exit", args: { result: 1 } }],
    },
    tools: ["*"],
    capabilities: [],
  };
  await api(a, "/v1/images", image);
  const t0 = Date.now();
  for (let i = 0; i < N; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, N - i) },
        () => api(a, "/v1/processes", { image: "sleeper", goal: "g" }),
      ),
    );
  }
  const store = await PostgresStore.open(url, { readOnly: true });
  await until(
    "all waiting",
    async () => (await store.load()).processes.filter((p) => p.state === "waiting").length === N,
    { timeoutMs: 300_000 },
  );
  console.log(`spawned ${N} in ${Date.now() - t0} ms`);
  const before = (await store.listKernels()).kernels.find((k) => k.liveProcesses === N)!;
  a.signal("SIGKILL");
  await a.status;
  const killedAt = Date.now();
  const expiry = before.heartbeatAt + before.ttlMs; // db clock ≈ host clock here
  await until("all adopted", async () => {
    const v = await store.listKernels();
    return v.kernels.filter((k) => k.state === "alive").reduce((s, k) => s + k.liveProcesses, 0) ===
        N &&
      (await store.readAudit({ action: "process.adopted", limit: 100000 })).length === N;
  }, { timeoutMs: 60_000 }).catch(async (e) => {
    const v = await store.listKernels();
    console.log(
      JSON.stringify(v.kernels.map((k) => [k.id, k.state, k.liveProcesses, k.processes])),
    );
    console.log(
      "adopted",
      (await store.readAudit({ action: "process.adopted", limit: 100000 })).length,
    );
    console.log(b.output().slice(-1500));
    throw e;
  });
  const done = Date.now();
  const v = await store.listKernels();
  console.log(
    `kill→all adopted+resumed: ${done - killedAt} ms; after lease expiry: ${
      done - expiry
    } ms; split ${
      v.kernels.filter((k) => k.state === "alive").map((k) => k.liveProcesses).join("/")
    }`,
  );
  await store.close();
  for (const n of [b, c]) await n[Symbol.asyncDispose]();
} finally {
  await dropTestSchema(schema);
  await Deno.remove(dir, { recursive: true });
}
