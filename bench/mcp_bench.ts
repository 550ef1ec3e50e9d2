/**
 * The cost the kernel adds to one MCP tool call: server-everything's `echo`
 * called through the kernel (`mcp.call`: decide, intent + audit committed to
 * a durable SQLite store before the request, result journaled and kept as an
 * object) and the same call made directly with the SDK's `Client` to a server
 * of the same program, over stdio and over streamable HTTP. One run, a few
 * hundred calls of each, after a warm-up; p50 / p99 of each and the ratio of
 * the p50s.
 *
 * @module
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  Kernel,
  LocalFilesystem,
  McpClients,
  parseMcpConfig,
  ShellProvider,
  SqliteStore,
} from "../mod.ts";

/** One row of the bench table. */
export interface McpBenchRow {
  name: string;
  value: string;
  target: string;
}

const EVERYTHING = "npm:@modelcontextprotocol/server-everything@2026.8.31";
/** The repository's lock: the server's dependencies resolve as `deno install --frozen` cached them. */
const LOCK = new URL("../deno.lock", import.meta.url).pathname;
const RUN = ["run", "-A", "--no-config", "--lock", LOCK, "--frozen", "--cached-only"];
const CALLS = 300;
const WARMUP = 30;

function _pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function _timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function _denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir as string;
}

/** server-everything over streamable HTTP on a free loopback port, until disposed. */
async function _httpServer(denoDir: string): Promise<AsyncDisposable & { url: string }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...RUN, EVERYTHING, "streamableHttp"],
    env: { PORT: String(port), DENO_DIR: denoDir },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await reader.cancel().catch(() => {});
    await child.status;
  };
  let said = "";
  const deadline = Date.now() + 30_000;
  while (!said.includes(`listening on port ${port}`)) {
    const { done, value } = await reader.read();
    if (done || Date.now() > deadline) {
      await stop();
      throw new Error(`server-everything did not listen on ${port}: ${said}`);
    }
    said += value;
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async [Symbol.asyncDispose]() {
      await stop();
      await drained;
    },
  };
}

/** `echo` through the kernel: one process holding a grant, one `mcp.call` per invoke. */
async function _throughKernel(dir: string, server: Record<string, unknown>, denoDir: string) {
  const workspace = await Deno.makeTempDir({ dir, prefix: "mcp-ws-" });
  const config = parseMcpConfig(JSON.stringify({ mcpServers: { everything: server } }), {
    file: "bench.json",
    env: { DENO: Deno.execPath(), DENO_DIR: denoDir },
  });
  await using mcp = new McpClients(config);
  await using shell = new ShellProvider({ workspace });
  await using kernel = await Kernel.create({
    store: await SqliteStore.open(join(dir, `mcp-${crypto.randomUUID().slice(0, 8)}.db`)),
    filesystem: new LocalFilesystem(workspace),
    shell,
    mcp,
  });
  const p = await kernel.spawn({
    image: {
      id: "mcp-bench",
      name: "mcp bench",
      version: "1",
      model: { provider: "scripted", steps: [{ tool: "sleep", args: { ms: 3_600_000 } }] },
      tools: ["sleep"],
      mcp: { everything: ["echo"] },
      capabilities: [{ resource: "mcp:everything/echo", rights: ["call"] }],
    },
    goal: "hold",
  });
  await kernel.wait(p.pid);
  return await _timed(
    CALLS,
    () => kernel.invoke(p.pid, (s) => s.mcpCall("everything", "echo", { message: "hi" })),
  );
}

/** `echo` with the SDK's client straight to the server. */
async function _direct(transport: StdioClientTransport | StreamableHTTPClientTransport) {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(transport);
  try {
    return await _timed(
      CALLS,
      () => client.callTool({ name: "echo", arguments: { message: "hi" } }),
    );
  } finally {
    await client.close();
  }
}

function _row(label: string, kernel: number[], direct: number[]): McpBenchRow[] {
  const ms = (t: number[]) => `${_pct(t, 0.5).toFixed(2)} / ${_pct(t, 0.99).toFixed(2)} ms`;
  return [
    {
      name: `mcp echo ${label}, through the kernel (sqlite, durable) p50 / p99`,
      value: ms(kernel),
      target: "—",
    },
    { name: `mcp echo ${label}, SDK client direct p50 / p99`, value: ms(direct), target: "—" },
    {
      name: `mcp echo ${label}, kernel / direct (p50)`,
      value: `${(_pct(kernel, 0.5) / _pct(direct, 0.5)).toFixed(1)}× (+${
        (_pct(kernel, 0.5) - _pct(direct, 0.5)).toFixed(2)
      } ms)`,
      target: "—",
    },
  ];
}

/** The MCP rows: stdio, then streamable HTTP (each server started for the measurement). */
export async function benchMcp(dir: string): Promise<McpBenchRow[]> {
  const denoDir = await _denoDir();
  const stdio = {
    command: "${DENO}",
    args: [...RUN, EVERYTHING, "stdio"],
    env: { DENO_DIR: "${DENO_DIR}", HOME: "/tmp" },
    readOnly: ["${DENO_DIR}", LOCK],
  };
  const rows: McpBenchRow[] = [];
  const kernelStdio = await _throughKernel(dir, stdio, denoDir);
  const directStdio = await _direct(
    new StdioClientTransport({
      command: Deno.execPath(),
      args: stdio.args,
      env: { DENO_DIR: denoDir, HOME: "/tmp" },
      stderr: "ignore",
    }),
  );
  rows.push(..._row("over stdio", kernelStdio, directStdio));
  {
    await using http = await _httpServer(denoDir);
    const kernelHttp = await _throughKernel(dir, { type: "http", url: http.url }, denoDir);
    const directHttp = await _direct(new StreamableHTTPClientTransport(new URL(http.url)));
    rows.push(..._row("over streamable HTTP", kernelHttp, directHttp));
  }
  return rows;
}
