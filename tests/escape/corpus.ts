/**
 * Runs the escape corpus: every fixture tool of `tools/` through a real
 * kernel (LocalFilesystem on the world's workspace) and the real sandbox,
 * in a few scripted processes, and reads each attempt's outcome back from
 * the kernel's journal and audit log — never from what the fixture claims
 * alone.
 *
 * Tool files that the static check refuses (`import()`, imports from
 * outside the allowlist) never run: the scan reports them, and the kernel
 * audits one `tool.refuse` each.
 *
 * Processes, in three phases (so that no more hosts run at once than the
 * pool keeps, and no idle host is evicted between an `arm` and a `report`):
 * 1. `isolate` and `kernel` (both fs:** read/write/list/delete, café/**
 *    denied) and `nogrant` (no grant at all), side by side;
 * 2. `peerA` and `peerB`, trying to talk to each other, beside `race`,
 *    reading through a symlink the test swaps meanwhile;
 * 3. three bombs processes (no grant), side by side: calls that only
 *    killing their host ends.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  type AuditRecord,
  FakeClock,
  type GrantSpec,
  Kernel,
  LocalFilesystem,
  NetProvider,
  type ProcessRecord,
  ShellProvider,
  type ToolResult,
} from "../../mod.ts";
import { SandboxTools, type SandboxToolsOptions } from "../../sandbox/mod.ts";
import type { World } from "./world.ts";

/** The folder of fixture tools. */
export const FIXTURES_DIR: string = fileURLToPath(new URL("./tools", import.meta.url));

/** Deadline of every tool call, in ms. */
export const DEADLINE_MS = 2000;

/** Reads the symlink race makes. */
export const RACE_ITERATIONS = 200;

/** Small limits, so that bombs end fast. */
export const LIMITS: NonNullable<SandboxToolsOptions["limits"]> = {
  heapMb: 64,
  hostMemoryBytes: 384 << 20,
  messageBytes: 1 << 20,
  outputBytes: 64 << 10,
  syscallsPerCall: 300,
  syscallsInFlight: 32,
  workersPerHost: 4,
  // Long enough that `timer_spin_after_result`'s report always lands on its spinning worker (the
  // watchdog that ends such a worker between calls is tested in sandbox/tool_runner_test.ts).
  idleAnswerMs: 5000,
};

/** How an attempt ended, as the kernel's records show it. */
export type Outcome =
  /** The isolate refused it (a permission, a missing global, a module rule); the kernel never saw it. */
  | "blocked-in-isolate"
  /** A kernel primitive failed its syscall (and the fixture got nothing). */
  | "denied-by-kernel"
  /** The kernel killed its host: a deadline, a memory limit or a syscall limit. */
  | "killed"
  /** The kernel refused a message from its host (forged, malformed, oversized) and killed the host. */
  | "refused"
  /** The call failed by a limit without its host being killed. */
  | "failed-by-limit"
  /** The tool folder scan refused the file (the static check): it never ran. */
  | "refused-at-scan"
  /** The fixture did what it tried. */
  | "ESCAPED";

/** One tool call of a fixture, as the kernel recorded it. */
export interface CallRecord {
  pid: string;
  name: string;
  callId: string;
  result: ToolResult;
  /** Syscalls of the call that the kernel failed. */
  failedSyscalls: number;
  /** Audit records of the call. */
  audits: AuditRecord[];
}

/** What the corpus left behind. */
export interface CorpusRun {
  confinement: "bubblewrap" | "permissions-only";
  /** Every call, in order, by process. */
  calls: CallRecord[];
  processes: ProcessRecord[];
  /** Tool files the scan refused, by tool file name (without `.ts`), with the reason. */
  broken: Record<string, string>;
  /** The audit records of each refused file (`tool.refuse`, no process), as `action:decision`. */
  scanAudits: Record<string, string[]>;
  /** Every journal entry and audit record of every process, as JSON. */
  records: string;
  /** Swaps the swapper made while the race ran. */
  swaps: number;
  /** Wall time of each phase, ms. */
  timings: Record<string, number>;
}

type _Step = { tool: string; args: Record<string, unknown> };

/**
 * The isolate process's script (main grants): attempts that never need the
 * kernel. `name:phase` calls a timer fixture's `arm` or `report`.
 */
export const ISOLATE_SCRIPT: readonly string[] = [
  // direct Deno APIs
  "deno_read_text_file",
  "deno_read_file_sync",
  "deno_open_file",
  "deno_stat_outside",
  "deno_read_dir",
  "deno_real_path",
  "fetch_file_url",
  "deno_write_outside",
  "deno_remove_outside",
  "deno_make_temp_file",
  "deno_symlink_make",
  "deno_chmod_outside",
  "deno_env_get",
  "deno_env_to_object",
  "deno_env_set",
  "node_process_env",
  "deno_command_output",
  "deno_command_spawn",
  "deno_kill_kernel",
  "deno_dlopen",
  "node_process_dlopen",
  "sys_hostname",
  "sys_network_interfaces",
  "sys_memory_info",
  "deno_permissions_request",
  // host facts: no pid, path, platform or CPU count reaches a tool
  "host_facts_pid",
  "host_facts_ppid",
  "host_facts_pid_alias",
  "host_facts_execpath",
  "host_facts_main_module",
  "host_facts_cwd",
  "host_facts_build",
  "host_facts_cpus",
  // the network
  "deno_connect_tcp",
  "deno_connect_tls",
  "deno_listen_tcp",
  "deno_serve_http",
  "deno_resolve_dns",
  "fetch_loopback",
  "fetch_localhost_name",
  "websocket_loopback",
  // timers left behind: the report lands on the armed worker
  "timer_sys_after_result:arm",
  "timer_sys_after_result:report",
];

/** The kernel process's script (main grants): syscalls, forged and oversized messages. */
export const KERNEL_SCRIPT: readonly string[] = [
  // sys.fs through the kernel
  "fs_dotdot",
  "fs_dotdot_nested",
  "fs_absolute",
  "fs_proc_absolute",
  "fs_nul_byte",
  "fs_backslash",
  "fs_bidi_override",
  "fs_nfd_vault",
  "fs_symlink_file_out",
  "fs_symlink_dir_out",
  "fs_symlink_relative_out",
  "fs_symlink_chain",
  "fs_symlink_proc",
  "fs_symlink_dev",
  "fs_symlink_vault",
  "fs_write_through_symlink",
  "fs_write_through_dir_symlink",
  "fs_delete_through_symlink",
  "fs_list_symlink_dir",
  "obj_from_file_symlink",
  "obj_to_file_symlink",
  "proc_chdir_escape",
  "proc_chdir_symlink",
  // forged and oversized messages
  "forge_repeat_seq",
  "forge_proto_args",
  "forge_other_call",
  "forge_unknown_type",
  "forge_unknown_syscall",
  "forge_done_other_call",
  "forge_stdout_garbage",
  "forge_stdout_other_pid",
  "timer_forge_after_result:arm",
  "timer_forge_after_result:report",
  "oversize_output",
  "oversize_frame",
  "oversize_syscall_args",
  "syscall_flood_serial",
  "syscall_flood_parallel",
  // the kernel's own network and shell primitives
  "net_fetch_loopback",
  "net_fetch_mapped_loopback",
  "net_fetch_metadata",
  "shell_run_no_grant",
  // last: once the real 'done' follows the forged one, the host is refused, and with it
  // whatever call of this process runs then
  "forge_stdout_done",
];

/** The first bombs process's script (no grant): what only the memory limit stops. */
export const BOMBS_A_SCRIPT: readonly string[] = [
  "memory_heap_bomb",
  "memory_buffer_bomb",
  "memory_wasm_bomb",
];

/** The second bombs process's script (no grant): calls only the deadline ends. */
export const BOMBS_B_SCRIPT: readonly string[] = ["cpu_microtask_loop", "worker_close"];

/**
 * The third bombs process's script (no grant): a busy loop, then a timer
 * left spinning after its result; another tool still runs, and the next
 * call of that tool lands on the spinning worker.
 */
export const BOMBS_C_SCRIPT: readonly string[] = [
  "cpu_busy_loop",
  "timer_spin_after_result:arm",
  "sys_hostname",
  "timer_spin_after_result:report",
];

/** The no-grant process's script: syscalls without a grant, then attempts inside the isolate. */
export const NOGRANT_SCRIPT: readonly string[] = [
  "fs_read_no_grant",
  "fs_write_no_grant",
  "fs_fullwidth_dots",
  "fs_two_dot_leader",
  "fs_zero_width_dotdot",
  "fs_percent_encoded",
  "obj_other_namespace",
  "proc_spawn_escalate",
  "proc_signal_other",
  // attempts inside the isolate: worker permissions are none whatever the grants
  // /proc and /dev
  "proc_self_environ_read",
  "proc_kernel_cmdline_read",
  "dev_zero_open",
  // code from strings
  "eval_string",
  "function_constructor",
  "async_function_constructor",
  "set_timeout_string",
  "webassembly_compile",
  "core_eval_context",
  // workers and exits
  "worker_global",
  "shared_worker_global",
  "deno_exit",
  "node_process_exit",
];

/** Each peer's script. */
export const PEER_SCRIPT: readonly string[] = [
  "xproc_broadcast_channel",
  "xproc_caches_global",
  "xproc_caches_recovered",
];

/** The race process's script. */
export const RACE_SCRIPT: readonly string[] = ["symlink_race_file"];

const _MAIN_GRANTS: GrantSpec[] = [
  { resource: "fs:**", rights: ["read", "write", "list", "delete"] },
  { resource: "fs:café/**", rights: ["read", "write", "list", "delete"], effect: "deny" },
  // A wildcard: a loopback, private or link-local address still needs an explicit grant.
  { resource: "net:*", rights: ["fetch"] },
];

function _steps(script: readonly string[], args: (name: string) => Record<string, unknown>) {
  const steps: _Step[] = script.map((entry) => {
    const [tool, phase] = entry.split(":") as [string, string | undefined];
    return { tool, args: { ...args(tool), ...(phase === undefined ? {} : { phase }) } };
  });
  return [...steps, { tool: "exit", args: { result: null } }];
}

function _image(id: string, steps: _Step[], capabilities: GrantSpec[]) {
  return {
    id,
    name: id,
    version: "1",
    model: { provider: "scripted" as const, steps },
    tools: [...new Set([...steps.map((s) => s.tool)])],
    capabilities,
  };
}

/** Boots a kernel on the world with the real sandbox and runs every script. */
export async function runCorpus(
  world: World,
  options: { bubblewrap: "auto" | "off" },
): Promise<CorpusRun> {
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  await using tools = await SandboxTools.create({
    dirs: [FIXTURES_DIR, world.gen],
    builtins: false,
    limits: LIMITS,
    bubblewrap: options.bubblewrap,
  });
  timings["scan"] = performance.now() - t0;
  const broken: Record<string, string> = {};
  for (const b of tools.broken) broken[_fixtureName(b.file)] = b.reason;
  await using kernel = await Kernel.create({
    filesystem: new LocalFilesystem(world.ws),
    clock: new FakeClock(Date.UTC(2026, 0, 1)),
    toolHost: tools,
    toolDeadlineMs: DEADLINE_MS,
    net: new NetProvider(),
    shell: new ShellProvider({ workspace: world.ws }),
  });
  const ctx = world.context;
  const until = (pid: string) => kernel.wait(pid, { until: "terminal" });

  t0 = performance.now();
  const isolate = await kernel.spawn({
    image: _image("escape-isolate", _steps(ISOLATE_SCRIPT, () => ctx), _MAIN_GRANTS),
    goal: "escape from inside the isolate",
  });
  const viaKernel = await kernel.spawn({
    image: _image("escape-kernel", _steps(KERNEL_SCRIPT, () => ctx), _MAIN_GRANTS),
    goal: "escape through the syscall proxy",
  });
  const nogrant = await kernel.spawn({
    image: _image(
      "escape-nogrant",
      _steps(NOGRANT_SCRIPT, () => ({ ...ctx, otherPid: viaKernel.pid })),
      [],
    ),
    goal: "escape without a grant",
  });
  await Promise.all([isolate, viaKernel, nogrant].map((p) => until(p.pid)));
  timings["isolate+kernel+nogrant"] = performance.now() - t0;

  t0 = performance.now();
  const nonces = [`A-${crypto.randomUUID()}`, `B-${crypto.randomUUID()}`] as const;
  const peers = [];
  for (const [me, peer] of [[0, 1], [1, 0]] as const) {
    peers.push(
      await kernel.spawn({
        image: _image(
          `escape-peer-${me}`,
          _steps(PEER_SCRIPT, () => ({ nonce: nonces[me], peerNonce: nonces[peer] })),
          [],
        ),
        goal: "talk to the other process",
      }),
    );
  }
  const swapper = world.swapFileLink();
  let race;
  try {
    race = await kernel.spawn({
      image: _image(
        "escape-race",
        _steps(RACE_SCRIPT, () => ({
          path: "race/link",
          insideText: world.insideText,
          iterations: RACE_ITERATIONS,
        })),
        [{ resource: "fs:race/**", rights: ["read"] }],
      ),
      goal: "race a symlink swap",
    });
    await until(race.pid);
  } finally {
    await swapper.stop();
  }
  await Promise.all(peers.map((p) => until(p.pid)));
  timings["peers+race"] = performance.now() - t0;

  t0 = performance.now();
  const bombs = [];
  for (
    const [id, script] of [["a", BOMBS_A_SCRIPT], ["b", BOMBS_B_SCRIPT], [
      "c",
      BOMBS_C_SCRIPT,
    ]] as const
  ) {
    bombs.push(
      await kernel.spawn({
        image: _image(`escape-bombs-${id}`, _steps(script, () => ctx), []),
        goal: "exhaust the host",
      }),
    );
  }
  await Promise.all(bombs.map((p) => until(p.pid)));
  timings["bombs"] = performance.now() - t0;

  const scanAudits: Record<string, string[]> = {};
  for (const a of await kernel.audit({ action: "tool.refuse", limit: 1_000_000 })) {
    const name = _fixtureName(a.resource?.slice("tool:".length) ?? "");
    (scanAudits[name] ??= []).push(`${a.action}:${a.decision ?? "-"}`);
  }
  const pids = [isolate, viaKernel, nogrant, ...peers, race, ...bombs].map((p) => p.pid);
  const calls: CallRecord[] = [];
  const texts: string[] = [];
  const processes: ProcessRecord[] = [];
  for (const pid of pids) {
    const journal = await kernel.journal(pid);
    const audits = await kernel.audit({ pid, limit: 1_000_000 });
    texts.push(JSON.stringify(journal), JSON.stringify(audits));
    processes.push(kernel.get(pid));
    for (const e of journal) {
      if (e.kind !== "tool.end" || e.callId === null || e.data["name"] === "exit") continue;
      const callId = e.callId;
      calls.push({
        pid,
        name: e.data["name"] as string,
        callId,
        result: e.data["result"] as ToolResult,
        failedSyscalls: journal.filter((s) =>
          s.kind === "syscall" && s.callId === callId && s.data["ok"] === false
        ).length,
        audits: audits.filter((a) =>
          a.callId === callId
        ),
      });
    }
  }
  return {
    confinement: tools.confinement.kind,
    calls,
    processes,
    broken,
    scanAudits,
    records: texts.join("\n"),
    swaps: swapper.swaps,
    timings,
  };
}

/** A fixture's name: its file name without `.ts`. */
function _fixtureName(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1).replace(/\.ts$/, "");
}

/** The outcome of a tool file the scan refused, read from the reason it gave. */
export function scanOutcomeOf(reason: string): Outcome | `unexpected: ${string}` {
  return /^Cannot load tool '[^']+': line \d+, column \d+: /.test(reason)
    ? "refused-at-scan"
    : `unexpected: ${reason.slice(0, 200)}`;
}

/**
 * Whether a result carries a fact about the host: the kernel's pid or any
 * number (the host's pid, a CPU count), Deno's path on the host or any
 * absolute path. A `host_facts_*` fixture's result that does has escaped,
 * whatever the fixture claims.
 */
export function carriesHostFact(value: unknown): boolean {
  const text = JSON.stringify(value) ?? "";
  return text.includes(String(Deno.pid)) || text.includes(Deno.execPath()) ||
    /\d/.test(text) || /(?:^|[^\w.])\/[\w.-]/.test(text);
}

/** The outcome of one call, read from the kernel's records. */
export function outcomeOf(call: CallRecord): Outcome | `unexpected: ${string}` {
  const actions = call.audits.map((a) => a.action);
  if (actions.includes("sandbox.refuse")) return "refused";
  if (actions.includes("sandbox.kill")) return "killed";
  const r = call.result;
  if (r.ok) {
    const value = r.value as { escaped?: unknown } | null;
    if (value?.escaped === true) return "ESCAPED";
    if (call.name.startsWith("host_facts_") && carriesHostFact(r.value)) return "ESCAPED";
    if (value?.escaped !== false) return `unexpected: ${JSON.stringify(r.value).slice(0, 200)}`;
    return call.failedSyscalls > 0 ? "denied-by-kernel" : "blocked-in-isolate";
  }
  if (r.error.code === "ELIMIT") return "failed-by-limit";
  return `unexpected: ${r.error.code}: ${r.error.message.slice(0, 200)}`;
}

/**
 * The call that decides each fixture's outcome, by name: its last call (a
 * timer's `report`). A fixture that several processes call (the peers)
 * is decided by the call that escaped, if one did.
 */
export function decidingCalls(calls: readonly CallRecord[]): Map<string, CallRecord> {
  const out = new Map<string, CallRecord>();
  for (const c of calls) {
    const seen = out.get(c.name);
    if (seen === undefined || seen.pid === c.pid || outcomeOf(seen) !== "ESCAPED") {
      out.set(c.name, c);
    }
  }
  return out;
}

/** A call's audit records, as `action:decision` (`-` for none). */
export function auditSummary(call: CallRecord): string[] {
  return call.audits.map((a) => `${a.action}:${a.decision ?? "-"}`);
}
