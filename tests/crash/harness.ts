/**
 * The crash harness: runs the worker kernel, kills it with SIGKILL at random
 * points, restarts it, and at the end checks what an uninterrupted run
 * promises — nothing acknowledged lost, no journaled effect twice, every
 * process with the result an uninterrupted run gives, SQLite sound, the audit
 * chain verified.
 *
 * @module
 */
import { join } from "node:path";
import {
  FakeClock,
  Kernel,
  LocalFilesystem,
  openStore,
  parseStoreLocation,
  type ProcessRecord,
  SqliteStore,
  type ToolResult,
} from "../../mod.ts";
import { rng } from "./rng.ts";

const WORKER = new URL("./worker.ts", import.meta.url).pathname;

/** Options of {@linkcode runCrashCampaign}. */
export interface CrashCampaignOptions {
  /** SIGKILLs that land while the kernel is working. */
  kills: number;
  /** Seed of the kill times. */
  seed: number;
  /** Worker processes, rounds each and sleep per round (ms). */
  procs?: number;
  rounds?: number;
  sleepMs?: number;
  /** A kill lands this long after BOOT: a random time in [min, max] ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Called with a line per event, for the soak script. */
  log?: (line: string) => void;
  /** The kernel's store, as `--store` takes it (default: SQLite in the data directory). */
  store?: string;
}

/** What a campaign observed and checked. */
export interface CrashCampaignResult {
  kills: number;
  boots: number;
  acknowledged: { spawns: string[]; approvals: string[] };
  problems: string[];
  processes: number;
}

interface _Run {
  code: number | null;
  lines: string[];
  killed: boolean;
}

/** The worker's data directory and workspace inside `dir`, made if missing. */
async function _dirs(dir: string): Promise<{ data: string; workspace: string }> {
  const data = join(dir, "data");
  const workspace = join(dir, "ws");
  await Deno.mkdir(data, { recursive: true });
  await Deno.mkdir(workspace, { recursive: true });
  return { data, workspace };
}

/** The worker's flag for a store (none: SQLite in its data directory). */
function _storeArgs(store: string | undefined): string[] {
  return store === undefined ? [] : ["--store", store];
}

/** Opens the worker's kernel without scheduling, to inspect what it left. */
async function _inspect(data: string, workspace: string, location?: string): Promise<Kernel> {
  const store = await openStore(parseStoreLocation(location), { dataDir: data });
  return await Kernel.create({
    store,
    filesystem: new LocalFilesystem(workspace),
    autostart: false,
  });
}

/** Runs the worker once; kills it `delayMs` after BOOT (null: let it finish). */
async function _runWorker(args: string[], delayMs: number | null): Promise<_Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let killed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (line.startsWith("BOOT") && delayMs !== null) {
          timer = setTimeout(() => {
            killed = true;
            try {
              child.kill("SIGKILL");
            } catch {
              // It ended on its own just now.
            }
          }, delayMs);
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const status = await child.status;
  const err = await stderr;
  if (!killed && status.code !== 0 && status.code !== 70 && status.code !== 9) {
    throw new Error(`worker failed (${status.code}): ${err.slice(-2000)}`);
  }
  // A kill that came after DONE did not interrupt anything.
  return { code: status.code, lines, killed: killed && !lines.includes("DONE") };
}

/** Kills the worker at random points, then lets it finish, then checks. */
export async function runCrashCampaign(
  dir: string,
  options: CrashCampaignOptions,
): Promise<CrashCampaignResult> {
  const { data, workspace } = await _dirs(dir);
  const procs = options.procs ?? 6;
  const rounds = options.rounds ?? 10;
  const sleepMs = options.sleepMs ?? 20;
  const args = [
    "--data",
    data,
    "--workspace",
    workspace,
    "--procs",
    `${procs}`,
    "--rounds",
    `${rounds}`,
    "--sleep",
    `${sleepMs}`,
    ..._storeArgs(options.store),
  ];
  const rand = rng(options.seed);
  const min = options.minDelayMs ?? 20;
  const max = options.maxDelayMs ?? 400;
  const spawns: string[] = [];
  const approvals: string[] = [];
  let kills = 0;
  let boots = 0;
  let done = false;
  const collect = (run: _Run) => {
    boots++;
    for (const l of run.lines) {
      if (l.startsWith("ACK spawn ")) spawns.push(l.slice(10));
      if (l.startsWith("ACK approve ")) approvals.push(l.slice(12));
    }
    done = run.lines.includes("DONE");
  };
  // Kill until the wanted number of kills interrupted work; the workload is
  // replaced by a fresh one (in a new directory) if it finishes first.
  for (let attempts = 0; kills < options.kills && attempts < options.kills * 4; attempts++) {
    const run = await _runWorker(args, min + Math.floor(rand() * (max - min)));
    collect(run);
    if (run.killed) kills++;
    options.log?.(
      `boot ${boots}: ${run.killed ? "killed" : "finished"} after ${run.lines.length} lines`,
    );
    if (done) break;
  }
  for (let i = 0; i < 5 && !done; i++) collect(await _runWorker(args, null));
  const problems = done
    ? await _check(data, workspace, { procs, rounds, spawns, approvals }, options.store)
    : ["the workload never finished"];
  return { kills, boots, acknowledged: { spawns, approvals }, problems, processes: spawns.length };
}

/** Everything an uninterrupted run promises, checked on the data left behind. */
async function _check(
  data: string,
  workspace: string,
  expect: { procs: number; rounds: number; spawns: string[]; approvals: string[] },
  location?: string,
): Promise<string[]> {
  const problems: string[] = [];
  const store = await openStore(parseStoreLocation(location), { dataDir: data });
  if (store instanceof SqliteStore) {
    const integrity = store.integrityCheck();
    if (integrity !== "ok") problems.push(`integrity_check: ${integrity}`);
  }
  await using kernel = await Kernel.create({
    store,
    filesystem: new LocalFilesystem(workspace),
    clock: new FakeClock(0),
    autostart: false,
  });
  const all = kernel.list();
  if (all.length !== expect.procs) {
    problems.push(`expected ${expect.procs} processes, found ${all.length}`);
  }
  for (const pid of new Set(expect.spawns)) {
    if (!all.some((p) => p.pid === pid)) problems.push(`acknowledged spawn ${pid} is lost`);
  }
  for (const id of new Set(expect.approvals)) {
    const r = kernel.humanRequests().find((h) => h.id === id);
    if (r?.state !== "approved") {
      problems.push(`acknowledged approval ${id} is ${r?.state ?? "lost"}`);
    }
  }
  for (const p of all) problems.push(...await _checkProcess(kernel, p, workspace, expect.rounds));
  const verified = await kernel.verifyAudit();
  if (!verified.ok) problems.push(`audit chain broken at ${verified.seq}: ${verified.reason}`);
  return problems;
}

async function _checkProcess(
  kernel: Kernel,
  p: ProcessRecord,
  workspace: string,
  rounds: number,
): Promise<string[]> {
  const problems: string[] = [];
  const say = (m: string) => problems.push(`${p.pid}: ${m}`);
  if (p.state !== "exited") say(`ended ${p.state} (${p.reason})`);
  if (JSON.stringify(p.result) !== JSON.stringify({ done: true, rounds })) {
    say(`result ${JSON.stringify(p.result)}`);
  }
  for (let r = 1; r <= rounds; r++) {
    const text = await Deno.readTextFile(join(workspace, p.cwd, `f${r}.txt`)).catch(() => null);
    if (text !== `round ${r}\n`) say(`f${r}.txt is ${JSON.stringify(text)}`);
  }
  if (
    await Deno.readTextFile(join(workspace, p.cwd, "approved.txt")).catch(() => null) !==
      "approved\n"
  ) say("approved.txt missing");
  if (await Deno.readTextFile(join(workspace, p.cwd, "once.txt")).catch(() => null) !== "first\n") {
    say("once.txt is not the first write");
  }
  const [counter] = kernel.listObjects(`proc/${p.pid}`);
  const versions = counter === undefined ? [] : await kernel.store.readObjectVersions(counter.oid);
  if (versions.length !== rounds + 1) {
    say(
      `counter has ${versions.length} versions, expected ${
        rounds + 1
      } (an object write happened twice or was lost)`,
    );
  }
  // In the journal as it stands, each syscall of each call completed once, each call ended once.
  const seen = new Set<string>();
  const ends = new Map<string, ToolResult>();
  for (const e of await kernel.journal(p.pid)) {
    if (e.kind === "syscall") {
      const key = `${e.callId}#${e.sys}`;
      if (seen.has(key)) say(`syscall ${key} (${String(e.data["name"])}) completed twice`);
      seen.add(key);
    } else if (e.kind === "tool.end" && e.callId !== null) {
      if (ends.has(e.callId)) say(`call ${e.callId} ended twice`);
      ends.set(e.callId, e.data["result"] as ToolResult);
    }
  }
  const once = kernel.capabilities(p.pid).find((g) => g.resource.endsWith("/once.txt"));
  if (once?.uses !== 0) say(`one-time grant has ${once?.uses} uses left`);
  const spent = (await kernel.audit({ pid: p.pid, action: "fs.write", limit: 100_000 }))
    .filter((a) => a.capabilityId === once?.id && a.decision === "allow");
  if (spent.length !== 1) say(`one-time grant allowed ${spent.length} writes`);
  const onceResults = [...ends.values()].filter((r) => !r.ok && r.error.code === "EPERM");
  if (onceResults.length !== 1) {
    say(`expected exactly one EPERM (the second once.txt write), saw ${onceResults.length}`);
  }
  return problems;
}

/** Runs the worker with a poison process until it finishes (at most `maxBoots`). */
export async function runPoisonCampaign(
  dir: string,
  maxBoots = 8,
): Promise<{ exits: (number | null)[]; kernel: { processes: ProcessRecord[] } }> {
  const { data, workspace } = await _dirs(dir);
  const args = [
    "--data",
    data,
    "--workspace",
    workspace,
    "--procs",
    "2",
    "--rounds",
    "2",
    "--sleep",
    "0",
    "--poison",
  ];
  const exits: (number | null)[] = [];
  for (let i = 0; i < maxBoots; i++) {
    const run = await _runWorker(args, null);
    exits.push(run.code);
    if (run.lines.includes("DONE")) break;
  }
  await using kernel = await _inspect(data, workspace);
  return { exits, kernel: { processes: kernel.list() } };
}

/**
 * Runs the worker once with `crash` flags (it dies around one write), then
 * once more to the end; returns both runs' exit codes and the kernel's state.
 */
export async function runInterruptedWrite(
  dir: string,
  crash: ["--crash-before" | "--crash-after", string],
  options: { store?: string } = {},
): Promise<
  {
    exits: (number | null)[];
    processes: ProcessRecord[];
    journal: { name: string; kind: string; callId: string | null }[];
    file: string | null;
    /** How the write found in flight was settled ("evidence" or "redo"). */
    settled: string[];
    /** The file's inode and mtime after the crash, and at the end (null: absent). */
    stats: ({ ino: number | null; mtime: number | null } | null)[];
  }
> {
  const { data, workspace } = await _dirs(dir);
  const args = [
    "--data",
    data,
    "--workspace",
    workspace,
    "--procs",
    "1",
    "--rounds",
    "2",
    "--sleep",
    "0",
    ..._storeArgs(options.store),
  ];
  const stat = async () => {
    const st = await Deno.lstat(join(workspace, crash[1])).catch(() => null);
    return st === null ? null : { ino: st.ino, mtime: st.mtime?.getTime() ?? null };
  };
  const first = await _runWorker([...args, ...crash], null);
  const afterCrash = await stat();
  const second = await _runWorker(args, null);
  const atEnd = await stat();
  await using kernel = await _inspect(data, workspace, options.store);
  const processes = kernel.list();
  const journal = (await kernel.journal(processes[0]!.pid)).map((e) => ({
    name: String(e.data["name"] ?? ""),
    kind: e.kind,
    callId: e.callId,
  }));
  const file = await Deno.readTextFile(join(workspace, crash[1])).catch(() => null);
  const settled = (await kernel.audit({ action: "fs.write" }))
    .map((a) => (a.detail as { settled?: string }).settled)
    .filter((x): x is string => x !== undefined);
  return {
    exits: [first.code, second.code],
    processes,
    journal,
    file,
    settled,
    stats: [afterCrash, atEnd],
  };
}
