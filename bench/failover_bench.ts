/**
 * Failover: three kernels on a fresh PostgreSQL schema (lease TTL 2 s), N
 * sleeping processes on the first; kill -9 it and time until the others have
 * adopted and resumed them all. A section of `deno task bench` (`failover`),
 * or alone: `deno run -A bench/failover_bench.ts [N]` (default 1000).
 *
 * @module
 */
import { api, startNode, until } from "../tests/cluster/cluster_kit.ts";
import { PostgresStore } from "../runtime/store/postgres_store.ts";
import {
  dropTestSchema,
  freshSchemaName,
  probePostgres,
  testPostgresUrl,
} from "../runtime/testing/postgres_testing.ts";

/** One row of the bench table. */
export interface FailoverRow {
  name: string;
  value: string;
  target: string;
}

/** Kills a kernel running `n` live processes; answers how long adoption took. */
export async function benchFailover(n = 1000): Promise<FailoverRow[]> {
  const name = `failover: kill -9 a kernel with ${n} live processes, all adopted and resumed`;
  const probe = await probePostgres();
  if (!probe.ok) return [{ name, value: "skipped", target: probe.reason }];
  const N = n;
  const schema = freshSchemaName();
  const url = testPostgresUrl(schema);
  const dir = await Deno.makeTempDir();
  try {
    const a = await startNode(dir, url, "a", { leaseTtl: "2s" });
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
    // Spawned while a is alone: placement keeps every process on a.
    const b = await startNode(dir, url, "b", { leaseTtl: "2s" });
    const c = await startNode(dir, url, "c", { leaseTtl: "2s" });
    const store = await PostgresStore.open(url, { readOnly: true });
    await until(
      "all waiting",
      async () => (await store.load()).processes.filter((p) => p.state === "waiting").length === N,
      { timeoutMs: 300_000 },
    );
    void t0;
    const before = (await store.listKernels()).kernels.find((k) => k.liveProcesses === N)!;
    a.signal("SIGKILL");
    await a.status;
    const killedAt = Date.now();
    const expiry = before.heartbeatAt + before.ttlMs; // db clock ≈ host clock here
    await until("all adopted", async () => {
      const v = await store.listKernels();
      return v.kernels.filter((k) => k.state === "alive").reduce(
            (s, k) => s + k.liveProcesses,
            0,
          ) ===
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
    await store.close();
    for (const k of [b, c]) await k[Symbol.asyncDispose]();
    const split = v.kernels.filter((k) => k.state === "alive").map((k) => k.liveProcesses);
    return [{
      name,
      value: `${done - expiry} ms after lease expiry (${done - killedAt} ms after the kill; ` +
        `split ${split.join("/")})`,
      target: "≤ 5 s after lease expiry",
    }];
  } finally {
    await dropTestSchema(schema);
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  for (const r of await benchFailover(Number(Deno.args[0] ?? 1000))) {
    console.log(`${r.name}: ${r.value} (target ${r.target})`);
  }
}
