/**
 * Control-plane benchmarks (`deno task bench:api`), every figure measured in
 * this run on loopback:
 *
 * - `GET /v1/processes/:pid` latency p50/p99 and throughput under 50
 *   concurrent clients (autocannon), the server in its own process so that
 *   client and server do not share an event loop;
 * - approve → process running again: from sending `POST /v1/human/:id` to
 *   the kernel's `running` transition of that process (p50, p99);
 * - event delivery lag: from a kernel state change to its arrival at an SSE
 *   client reading `GET /v1/events` over HTTP (p50, p99).
 *
 * Options: `--seconds N` (load duration, default 5), `--connections N`
 * (default 50), `--samples N` (approvals and events, default 200).
 *
 * @module
 */
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { ControlPlane, serveControlPlane } from "../api/mod.ts";
import { type AgentImageInput, Kernel, MemoryFilesystem, MemoryStore } from "../mod.ts";

const TOKEN = "bench-admin-token-0123456789";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

function ms(x: number): string {
  return `${x.toFixed(2)} ms`;
}

const sleeper: AgentImageInput = {
  id: "bench-sleeper",
  name: "sleeper",
  version: "1",
  model: { provider: "scripted", steps: [{ tool: "sleep", args: { ms: 3_600_000 } }] },
  tools: ["sleep"],
};

const approver: AgentImageInput = {
  id: "bench-approver",
  name: "approver",
  version: "1",
  model: {
    provider: "scripted",
    steps: [
      { tool: "write_text_file", args: { path: "out/x.txt", text: "x" } },
      { tool: "exit", args: { result: null } },
    ],
  },
  tools: ["write_text_file", "exit"],
  capabilities: [{ resource: "fs:out/**", rights: ["write"], effect: "ask" }],
};

async function boot(): Promise<{ kernel: Kernel; plane: ControlPlane }> {
  const kernel = await Kernel.create({
    store: new MemoryStore(),
    filesystem: new MemoryFilesystem(),
  });
  const plane = await ControlPlane.create(kernel, { adminToken: TOKEN, maxEventStreams: 1024 });
  return { kernel, plane };
}

/** `--serve`: a kernel with 100 waiting processes, served until stdin closes. */
async function serveMode(): Promise<void> {
  const { kernel, plane } = await boot();
  await kernel.registerImage(sleeper);
  let pid = "";
  for (let i = 0; i < 100; i++) {
    pid = (await kernel.spawn({ image: sleeper.id, goal: `g${i}` })).pid;
  }
  await kernel.wait(pid);
  const server = serveControlPlane(plane, { port: 0 });
  console.log(JSON.stringify({ url: server.url, pid }));
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  await server.shutdown();
  await kernel.close();
}

async function loadGet(seconds: number, connections: number): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  for (let i = 0; i < 100 && !line.includes("\n"); i++) {
    const { value, done } = await reader.read();
    if (done) break;
    line += value;
  }
  const { url, pid } = JSON.parse(line) as { url: string; pid: string };
  try {
    const result = await autocannon({
      url: `${url}/v1/processes/${pid}`,
      connections,
      duration: seconds,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const bad = result.non2xx + result.errors + result.timeouts;
    return [
      `GET /v1/processes/:pid, ${connections} clients, ${seconds} s`,
      `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
      `${Math.round(result.requests.average)} req/s, ${bad} failed of ${result.requests.total}`,
    ];
  } finally {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  }
}

async function approveToRunning(samples: number): Promise<string[]> {
  const { kernel, plane } = await boot();
  await kernel.registerImage(approver);
  const server = serveControlPlane(plane, { port: 0 });
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const p = await kernel.spawn({ image: approver.id, goal: `a${i}` });
      await kernel.wait(p.pid);
      const [r] = kernel.humanRequests({ state: "pending", pid: p.pid });
      const running = Promise.withResolvers<number>();
      const sub = kernel.subscribe((e) => {
        if (e.type === "process" && e.pid === p.pid && e.state === "running") {
          running.resolve(performance.now());
        }
      });
      const t0 = performance.now();
      const res = await fetch(`${server.url}/v1/human/${r!.id}`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ decision: "approve" }),
      });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`approve answered ${res.status}`);
      times.push((await running.promise) - t0);
      sub[Symbol.dispose]();
      await kernel.wait(p.pid, { until: "terminal" });
    }
  } finally {
    await server.shutdown();
    await kernel.close();
  }
  times.sort((a, b) => a - b);
  return [
    `approve → running again (${samples} approvals over HTTP)`,
    `p50 ${ms(pct(times, 0.5))}, p99 ${ms(pct(times, 0.99))}`,
  ];
}

async function eventLag(samples: number): Promise<string[]> {
  const { kernel, plane } = await boot();
  await kernel.registerImage(sleeper);
  const server = serveControlPlane(plane, { port: 0 });
  const emitted = new Map<string, number>();
  const lags: number[] = [];
  const sub = kernel.subscribe((e) => {
    if (e.type === "process") emitted.set(`${e.pid} ${e.state}`, performance.now());
  });
  const abort = new AbortController();
  try {
    const res = await fetch(`${server.url}/v1/events?types=process`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: abort.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    const reading = (async () => {
      while (lags.length < samples) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!frame.includes("event: process") || data === undefined) continue;
          const e = JSON.parse(data) as { pid: string; state: string };
          const at = emitted.get(`${e.pid} ${e.state}`);
          if (at !== undefined) lags.push(performance.now() - at);
        }
      }
    })();
    // Each spawn makes created → runnable → running → waiting: several changes.
    for (let i = 0; i < samples && lags.length < samples; i++) {
      const p = await kernel.spawn({ image: sleeper.id, goal: `e${i}` });
      await kernel.wait(p.pid);
      // Pace the changes so each lag is measured alone, not behind a burst.
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.race([reading, new Promise((r) => setTimeout(r, 5_000))]);
    await reader.cancel();
  } finally {
    abort.abort();
    sub[Symbol.dispose]();
    await server.shutdown();
    await kernel.close();
  }
  lags.sort((a, b) => a - b);
  return [
    `event delivery lag, state change → SSE client (${lags.length} events)`,
    `p50 ${ms(pct(lags, 0.5))}, p99 ${ms(pct(lags, 0.99))}`,
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "boolean", default: false },
      seconds: { type: "string", default: "5" },
      connections: { type: "string", default: "50" },
      samples: { type: "string", default: "200" },
    },
  });
  if (values.serve) {
    await serveMode();
  } else {
    const rows = [
      await loadGet(Number(values.seconds), Number(values.connections)),
      await approveToRunning(Number(values.samples)),
      await eventLag(Number(values.samples)),
    ];
    const width = Math.max(...rows.map((r) => r[0]!.length));
    console.log(`${"benchmark".padEnd(width)}  result`);
    for (const [name, value] of rows) console.log(`${name!.padEnd(width)}  ${value}`);
  }
}
