import assert from "node:assert/strict";
import { HostPool } from "./host_pool.ts";
import { IsolateHost } from "./isolate_host.ts";
import { resolveLimits } from "./limits.ts";
import { toolHash } from "./tool_runner.ts";
import { fakeHostPlan } from "./testdata/fake_host_plan.ts";

const LIMITS = resolveLimits({ messageBytes: 1 << 20 });
const SOURCE = "export default 1;";
const NO_PERMISSIONS = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
} as const;

function pool(options: { warm?: number; maxHosts?: number; callsPerHost?: number } = {}): HostPool {
  return new HostPool({
    start: () => IsolateHost.start({ plan: fakeHostPlan("echo"), limits: LIMITS }),
    ...options,
  });
}

async function echo(host: IsolateHost, value: unknown): Promise<unknown> {
  const result = await host.run({
    tool: { source: SOURCE, hash: toolHash(SOURCE) },
    label: "echo",
    args: value,
    deadlineMs: 5000,
    permissions: NO_PERMISSIONS,
    serve: () => Promise.resolve(null),
  });
  return result.ok ? result.value : result.error.code;
}

Deno.test("the pool replaces a dead host with a fresh one", async () => {
  await using hosts = pool({ warm: 1, maxHosts: 2 });
  await hosts.fill();
  const first = await hosts.acquire("p_1");
  const dead = first.host;
  dead.kill("test");
  first.release();
  await dead.exited;
  assert.equal(hosts.stats.retired, 1);
  using second = await hosts.acquire("p_1");
  assert.notEqual(second.host, dead);
  assert.equal(second.host.pid, "p_1");
  assert.deepEqual(await echo(second.host, { n: 1 }), { n: 1 });
});

Deno.test("a host serves one process for life: another process never gets it", async () => {
  await using hosts = pool({ warm: 0, maxHosts: 2 });
  const a = await hosts.acquire("p_1");
  const hostA = a.host;
  a.release();
  const b = await hosts.acquire("p_2");
  const hostB = b.host;
  b.release();
  assert.notEqual(hostB, hostA);
  const again = await hosts.acquire("p_1");
  assert.equal(again.host, hostA, "p_1 gets its own idle host back");
  again.release();
  // At the limit, a third process evicts the least recently used idle host (p_2's).
  using c = await hosts.acquire("p_3");
  assert.ok(c.host !== hostA && c.host !== hostB);
  assert.equal(c.host.pid, "p_3");
  await hostB.exited;
  assert.equal(hostB.state, "dead");
  assert.equal(hostA.state, "ready");
});

Deno.test("a host is retired after its number of calls", async () => {
  await using hosts = pool({ warm: 0, maxHosts: 1, callsPerHost: 2 });
  const lease = await hosts.acquire("p_1");
  const host = lease.host;
  await echo(host, 1);
  await echo(host, 2);
  lease.release();
  using next = await hosts.acquire("p_1");
  assert.notEqual(next.host, host);
  assert.equal(hosts.stats.retired, 1);
});

Deno.test("at the limit, a caller waits until a host is free", async () => {
  await using hosts = pool({ warm: 0, maxHosts: 1 });
  const busy = await hosts.acquire("p_1");
  let got: string | null = null;
  const waiting = hosts.acquire("p_2").then((lease) => {
    got = lease.host.pid;
    return lease;
  });
  await Promise.resolve();
  assert.equal(got, null);
  busy.release();
  using lease = await waiting;
  assert.equal(got, "p_2");
  assert.deepEqual(await echo(lease.host, "hi"), "hi");
});

Deno.test("a closed pool kills its hosts and refuses new leases", async () => {
  const hosts = pool({ warm: 1, maxHosts: 2 });
  await hosts.fill();
  const lease = await hosts.acquire("p_1");
  await hosts[Symbol.asyncDispose]();
  assert.equal(lease.host.state, "dead");
  await assert.rejects(hosts.acquire("p_1"), /ECANCELED|sandbox is closed/);
});
