/**
 * The sandbox benchmarks, printing a table. Every figure is measured in this
 * run, next to its baseline from the same run:
 *
 * - a no-op `clock.now` syscall's round trip as a tool sees it, against a raw
 *   `postMessage` round trip to a worker;
 * - a warm tool call (the tool's worker already loaded);
 * - a cold call (a fresh isolate for a tool never seen), against `deno run`
 *   of an empty script; and a new process's first call;
 * - the time from a runaway call's deadline to its host's death.
 *
 * Usage: `deno run -A bench/sandbox_bench.ts [--bubblewrap auto|off]`
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  IsolateToolRunner,
  type SandboxAuditRecord,
  staticCheck,
  toolHash,
} from "../sandbox/mod.ts";

const mode = Deno.args.includes("--bubblewrap")
  ? Deno.args[Deno.args.indexOf("--bubblewrap") + 1] as "auto" | "off"
  : "auto";
const fixture = (name: string) =>
  fileURLToPath(new URL(`../sandbox/testdata/${name}`, import.meta.url));

interface Row {
  name: string;
  p50: string;
  p99: string;
  baseline: string;
  target: string;
}
const rows: Row[] = [];

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}
const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Round trips made, untimed, before a round-trip figure is taken. */
const WARM_UP = 3000;

/** Round trips of a raw postMessage to a permission-less worker and back, in ms. */
async function rawPostMessage(n: number): Promise<number[]> {
  const source = "self.onmessage = (e) => self.postMessage(e.data);";
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
    deno: { permissions: "none" },
  } as WorkerOptions);
  const times: number[] = [];
  try {
    let wake: () => void = () => {};
    worker.onmessage = () => wake();
    // The same warm-up as the syscall loop gets: V8 tiers both paths up before timing.
    for (let i = 0; i < WARM_UP + n; i++) {
      const t = performance.now();
      const answered = new Promise<void>((resolve) => wake = resolve);
      worker.postMessage({ type: "result", id: 1, seq: i, ok: true, value: { now: i, iso: "" } });
      await answered;
      if (i >= WARM_UP) times.push(performance.now() - t);
    }
  } finally {
    worker.terminate();
  }
  return times;
}

/**
 * Round trips through the same boundary without the protocol: a frame-sized
 * message to a `deno run` subprocess over a pipe, into a worker and back, in ms.
 * It is the floor a syscall pays for crossing a process and a worker.
 */
async function rawPipeAndWorker(n: number): Promise<number[]> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/echo.ts`;
  await Deno.writeTextFile(
    file,
    `const w = new Worker("data:application/javascript," + encodeURIComponent("self.onmessage = (e) => self.postMessage(e.data);"), { type: "module", deno: { permissions: "none" } });
w.onmessage = (e) => { const v = e.data; let at = 0; while (at < v.length) at += Deno.stdout.writeSync(v.subarray(at)); };
const r = Deno.stdin.readable.getReader();
for (;;) { const { value, done } = await r.read(); if (done) break; w.postMessage(value); }
w.terminate();`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--unstable-worker-options", `--allow-read=${dir}`, file],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  const message = new TextEncoder().encode(
    JSON.stringify({ type: "syscall", pid: "p_1", id: 1, seq: 1, name: "clock.now", args: {} }),
  );
  const times: number[] = [];
  try {
    for (let i = 0; i < WARM_UP + n; i++) {
      const t = performance.now();
      await writer.write(message);
      let got = 0;
      while (got < message.length) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the echo subprocess ended");
        got += value.length;
      }
      if (i >= WARM_UP) times.push(performance.now() - t);
    }
  } finally {
    await writer.close();
    await reader.cancel();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  return times;
}

/** Wall time of `deno run` on an empty script, in ms. */
async function denoRunEmpty(n: number): Promise<number[]> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/empty.ts`;
  await Deno.writeTextFile(file, "");
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", file],
        stdout: "null",
        stderr: "null",
      }).output();
      times.push(performance.now() - t);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return times;
}

/** When an OS process is gone (absent, or a zombie), polled with `ps` (the kernel may not read another process's /proc). */
async function waitGone(osPid: number, limitMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    const out = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(osPid)] })
      .output();
    const stat = new TextDecoder().decode(out.stdout).trim();
    if (stat === "" || stat.startsWith("Z")) break;
  }
  return performance.now();
}

const audit: SandboxAuditRecord[] = [];
// 0. The static check every tools-folder file gets at the scan (and before a changed file runs).
{
  const source = await Deno.readTextFile(fixture("../../tools/count_lines.ts"));
  const t0 = performance.now();
  await staticCheck(source, { profile: "folder" });
  const firstMs = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    const r = await staticCheck(`${source}\n// ${i}\n`, { profile: "folder" });
    if (!r.ok) throw new Error("count_lines does not pass the static check");
    times.push(performance.now() - t);
  }
  const s = sorted(times);
  rows.push({
    name: "static check of a tool file (count_lines)",
    p50: ms(pct(s, 0.5)),
    p99: ms(pct(s, 0.99)),
    baseline: `first check in the process, loading the TypeScript compiler: ${ms(firstMs)}`,
    target: "",
  });
}

const startRunner = performance.now();
await using runner = await IsolateToolRunner.create({
  warm: 2,
  maxHosts: 3,
  bubblewrap: mode,
  audit: (r) => audit.push(r),
});
const runnerMs = performance.now() - startRunner;
const noSyscall = () => Promise.resolve(null);

// 1. Syscall round trip, as the tool sees it.
{
  const raw = sorted(await rawPostMessage(WARM_UP));
  const floor = sorted(await rawPipeAndWorker(WARM_UP));
  const loop = () =>
    runner.run({
      pid: "p_bench",
      tool: { path: fixture("syscall_loop.ts"), hash: "" },
      args: { n: WARM_UP },
      deadlineMs: 60_000,
      syscall: () => Promise.resolve({ now: 0, iso: "" }),
    });
  await loop(); // warm-up: the host's, the worker's and the kernel's paths tier up
  const result = await loop();
  if (!result.ok) throw new Error(result.error.message);
  const micros = sorted((result.value as { micros: number[] }).micros).map((m) => m / 1000);
  const p50 = pct(micros, 0.5);
  rows.push({
    name: "syscall round trip (clock.now, from a tool)",
    p50: us(p50),
    p99: us(pct(micros, 0.99)),
    baseline: `raw postMessage ${us(pct(raw, 0.5))} p50 / ${us(pct(raw, 0.99))} p99 (${
      (p50 / pct(raw, 0.5)).toFixed(1)
    }×); pipe+worker echo ${us(pct(floor, 0.5))} p50`,
    target: "p50 ≤ 250 µs and ≤ 5× raw",
  });
}

// 2. Warm tool calls.
for (
  const [label, file, syscall] of [
    ["warm tool call (noop, 0 syscalls)", "noop.ts", noSyscall],
    [
      "warm tool call (count_lines, 1 syscall)",
      "../../tools/count_lines.ts",
      () => Promise.resolve("a\nb\n"),
    ],
  ] as const
) {
  const times: number[] = [];
  for (let i = 0; i < 320; i++) {
    const t = performance.now();
    const r = await runner.run({
      pid: "p_bench",
      tool: { path: fixture(file), hash: "" },
      args: file === "noop.ts" ? { n: i } : { path: "a.txt" },
      deadlineMs: 10_000,
      syscall,
    });
    if (!r.ok) throw new Error(r.error.message);
    if (i >= 20) times.push(performance.now() - t);
  }
  const s = sorted(times);
  rows.push({
    name: label,
    p50: ms(pct(s, 0.5)),
    p99: ms(pct(s, 0.99)),
    baseline: "",
    target: "p50 ≤ 3 ms",
  });
}

// 3. Cold calls: a tool never seen (a fresh isolate), and a new process's first call.
{
  const empty = sorted(await denoRunEmpty(15));
  const fresh: number[] = [];
  for (let i = 0; i < 30; i++) {
    const source = `import { defineTool, z } from "libos/tool";
// variant ${i}
export default defineTool({ name: "cold", description: "A tool never seen before",
  input: z.object({}), output: z.object({ i: z.number() }), run: () => Promise.resolve({ i: ${i} }) });`;
    const t = performance.now();
    const r = await runner.run({
      pid: "p_bench",
      tool: { source, hash: toolHash(source) },
      args: {},
      deadlineMs: 10_000,
      syscall: noSyscall,
    });
    if (!r.ok) throw new Error(r.error.message);
    fresh.push(performance.now() - t);
    // Let the host start its next spare worker, as it does between an agent's steps.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const s = sorted(fresh);
  rows.push({
    name: "cold call (fresh isolate in a warm host)",
    p50: ms(pct(s, 0.5)),
    p99: ms(pct(s, 0.99)),
    baseline: `deno run empty script ${ms(pct(empty, 0.5))} p50`,
    target: "p50 ≤ 100 ms",
  });
  const first: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    const r = await runner.run({
      pid: `p_new${i}`,
      tool: { path: fixture("noop.ts"), hash: "" },
      args: { n: i },
      deadlineMs: 10_000,
      syscall: noSyscall,
    });
    if (!r.ok) throw new Error(r.error.message);
    first.push(performance.now() - t);
    await runner.release(`p_new${i}`);
    // Give the pool time to warm a replacement host.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  const f = sorted(first);
  rows.push({
    name: "first call of a new process (warm host from the pool)",
    p50: ms(pct(f, 0.5)),
    p99: ms(pct(f, 0.99)),
    baseline: `runner start with 2 warm hosts ${ms(runnerMs)}`,
    target: "",
  });
}

// 4. Deadline to the runaway host's death.
{
  const lateness: number[] = [];
  const deadline = 300;
  for (let i = 0; i < 5; i++) {
    const before = audit.length;
    const t = performance.now();
    const r = await runner.run({
      pid: `p_spin${i}`,
      tool: { path: fixture("busy_loop.ts"), hash: "" },
      args: {},
      deadlineMs: deadline,
      syscall: noSyscall,
    });
    if (r.ok || r.error.code !== "ETIMEDOUT") throw new Error("the busy loop did not time out");
    const kill = audit.slice(before).find((a) => a.action === "sandbox.kill");
    const dead = await waitGone(kill!.detail.host!, 2000);
    lateness.push(dead - (t + deadline));
    await runner.release(`p_spin${i}`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  const s = sorted(lateness);
  rows.push({
    name: "deadline → runaway host dead",
    p50: ms(pct(s, 0.5)),
    p99: ms(pct(s, 0.99)),
    baseline: `deadline ${deadline} ms, busy loop`,
    target: "≤ 1000 ms",
  });
}

console.log(
  `\nsandbox benchmarks — confinement: ${runner.confinement.kind}, Deno ${Deno.version.deno}\n`,
);
const widths = [54, 10, 10, 84];
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" │ ");
console.log(line(["benchmark", "p50", "p99", "baseline (same run)", "target"]));
console.log(widths.map((w) => "─".repeat(w)).join("─┼─") + "─┼─" + "─".repeat(24));
for (const r of rows) console.log(line([r.name, r.p50, r.p99, r.baseline, r.target]));
