/**
 * What the escape corpus must find: each fixture's outcome, the audit
 * records each attempt leaves, and the known gaps — the attempts that work
 * today, each with the reason and the change that would close it (see
 * README.md). A gap closed makes the corpus fail until its line here moves
 * to the outcome it now gets.
 *
 * @module
 */
import type { Outcome } from "./corpus.ts";

/** Which confinement the isolate hosts ran under. */
export type Confinement = "bubblewrap" | "permissions-only";

const B: Outcome = "blocked-in-isolate";
const D: Outcome = "denied-by-kernel";
const K: Outcome = "killed";
const R: Outcome = "refused";
const S: Outcome = "refused-at-scan";

/** Each fixture's outcome, the same under both confinements. */
const _COMMON: Record<string, Outcome> = {
  // direct Deno APIs: read, write, env, run, ffi, sys
  deno_read_text_file: B,
  deno_read_file_sync: B,
  deno_open_file: B,
  deno_stat_outside: B,
  deno_read_dir: B,
  deno_real_path: B,
  node_fs_read: S,
  fetch_file_url: B,
  deno_write_outside: B,
  deno_remove_outside: B,
  deno_make_temp_file: B,
  deno_symlink_make: B,
  deno_chmod_outside: B,
  deno_env_get: B,
  deno_env_to_object: B,
  deno_env_set: B,
  node_process_env: B,
  deno_command_output: B,
  deno_command_spawn: B,
  node_child_process: S,
  deno_kill_kernel: B,
  deno_dlopen: B,
  node_process_dlopen: B,
  sys_hostname: B,
  sys_network_interfaces: B,
  sys_memory_info: B,
  deno_permissions_request: B,
  // host facts: the worker answers undefined or NotCapable, and reports each read
  host_facts_pid: B,
  host_facts_ppid: B,
  host_facts_pid_alias: B,
  host_facts_execpath: B,
  host_facts_main_module: B,
  host_facts_cwd: B,
  host_facts_build: B,
  host_facts_cpus: B,
  // the network: fetch, WebSocket, raw connect, listen
  deno_connect_tcp: B,
  deno_connect_tls: B,
  deno_listen_tcp: B,
  deno_serve_http: B,
  deno_resolve_dns: B,
  fetch_loopback: B,
  fetch_localhost_name: B,
  websocket_loopback: B,
  node_net_connect: S,
  net_fetch_loopback: D,
  net_fetch_mapped_loopback: D,
  net_fetch_metadata: D,
  shell_run_no_grant: D,
  // imports: the static check refuses import() and imports outside the allowlist at the scan
  import_npm_cache_file: S,
  import_text_outside: S,
  import_json_outside: S,
  import_module_outside: S,
  import_relative_outside: S,
  import_static_in_data_module: S,
  import_static_in_blob_module: S,
  static_import_absolute: S,
  static_import_relative: S,
  import_remote_https: S,
  import_remote_loopback: S,
  import_npm_uncached: S,
  import_jsr: S,
  // /proc and /dev
  proc_self_environ_read: B,
  proc_self_environ_import: S,
  proc_kernel_environ_import: S,
  proc_kernel_cmdline_read: B,
  dev_zero_open: B,
  fs_proc_absolute: D,
  fs_symlink_proc: D,
  fs_symlink_dev: D,
  // code from strings
  eval_string: B,
  function_constructor: B,
  async_function_constructor: B,
  set_timeout_string: B,
  webassembly_compile: B,
  core_eval_context: B,
  data_url_import_code: S,
  // workers, exits, timers left behind
  worker_global: B,
  shared_worker_global: B,
  worker_threads_spawn: S,
  deno_exit: B,
  node_process_exit: B,
  worker_close: K,
  timer_sys_after_result: B,
  timer_forge_after_result: R,
  timer_spin_after_result: K,
  // sys.fs paths: .., absolute, NUL, Unicode, symlinks (a race too), no grant
  fs_dotdot: D,
  fs_dotdot_nested: D,
  fs_absolute: D,
  fs_nul_byte: D,
  fs_backslash: D,
  fs_bidi_override: D,
  fs_nfd_vault: D,
  fs_fullwidth_dots: D,
  fs_two_dot_leader: D,
  fs_zero_width_dotdot: D,
  fs_percent_encoded: D,
  fs_symlink_file_out: D,
  fs_symlink_dir_out: D,
  fs_symlink_relative_out: D,
  fs_symlink_chain: D,
  fs_symlink_vault: D,
  fs_write_through_symlink: D,
  fs_write_through_dir_symlink: D,
  fs_delete_through_symlink: D,
  fs_list_symlink_dir: D,
  obj_from_file_symlink: D,
  obj_to_file_symlink: D,
  proc_chdir_escape: D,
  proc_chdir_symlink: D,
  symlink_race_file: D,
  fs_read_no_grant: D,
  fs_write_no_grant: D,
  obj_other_namespace: D,
  proc_spawn_escalate: D,
  proc_signal_other: D,
  // other processes
  xproc_broadcast_channel: B,
  xproc_caches_global: B,
  // forged and oversized messages, floods, bombs
  forge_repeat_seq: R,
  forge_proto_args: R,
  forge_other_call: R,
  forge_unknown_type: R,
  forge_unknown_syscall: R,
  forge_done_other_call: R,
  forge_stdout_garbage: B,
  forge_stdout_other_pid: B,
  forge_stdout_done: B,
  oversize_output: "failed-by-limit",
  oversize_frame: R,
  oversize_syscall_args: R,
  syscall_flood_serial: K,
  syscall_flood_parallel: K,
  cpu_busy_loop: K,
  cpu_microtask_loop: K,
  memory_heap_bomb: K,
  memory_buffer_bomb: K,
  memory_wasm_bomb: B,
};

/**
 * Each fixture's outcome under `confinement`: the whole matrix. It is the
 * same under both: without bubblewrap each host has a private DENO_DIR, so
 * Cache Storage is not shared between hosts.
 */
export function expectedMatrix(_confinement: Confinement): Record<string, Outcome> {
  return { ..._COMMON, xproc_caches_recovered: B };
}

/**
 * Why each attempt that works today works (a fixture whose expected outcome
 * is `ESCAPED`). None of them reads the canaries, reaches the listener or
 * changes the outside folder: the corpus checks that separately. Empty: the
 * last two (a `data:` module's code, an `npm:` file of the host's cache) are
 * refused at the scan now, and the npm cache is private to each host.
 */
export const KNOWN_GAPS: Readonly<Record<string, string>> = {};

/** A kernel denial: one audit record, decision deny. */
const _deny = (action: string) => [`${action}:deny`];
/** A refused message: the refusal, then the kill of its host. */
const _REFUSED = ["sandbox.refuse:-", "sandbox.kill:-"];
/** A host killed by a limit. */
const _KILLED = ["sandbox.kill:-"];
/** An attempt the isolate blocked: one denial the worker reported. */
const _BLOCKED = ["sandbox.deny:deny"];

/** The audit records of each outcome, where the outcome alone decides them. */
const _BY_OUTCOME: Partial<Record<Outcome, string[]>> = {
  killed: _KILLED,
  refused: _REFUSED,
  "blocked-in-isolate": _BLOCKED,
  "failed-by-limit": ["sandbox.limit:deny"],
  "refused-at-scan": ["tool.refuse:deny"],
};

/**
 * The audit records each fixture's deciding call leaves, as
 * `action:decision` (for a file refused at the scan: the records naming
 * the file). Every denied attempt leaves exactly one `deny`.
 */
export function expectedAudit(matrix: Record<string, Outcome>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, outcome] of Object.entries(matrix)) out[name] = _BY_OUTCOME[outcome] ?? [];
  for (
    const name of [
      "fs_dotdot",
      "fs_dotdot_nested",
      "fs_absolute",
      "fs_proc_absolute",
      "fs_nul_byte",
      "fs_backslash",
      "fs_bidi_override",
      "fs_nfd_vault",
      "fs_fullwidth_dots",
      "fs_two_dot_leader",
      "fs_zero_width_dotdot",
      "fs_percent_encoded",
      "fs_symlink_file_out",
      "fs_symlink_dir_out",
      "fs_symlink_relative_out",
      "fs_symlink_chain",
      "fs_symlink_proc",
      "fs_symlink_dev",
      "fs_symlink_vault",
      "fs_read_no_grant",
    ]
  ) out[name] = _deny("fs.read");
  Object.assign(out, {
    fs_write_no_grant: _deny("fs.write"),
    fs_write_through_symlink: _deny("fs.write"),
    fs_write_through_dir_symlink: _deny("fs.write"),
    fs_delete_through_symlink: _deny("fs.delete"),
    fs_list_symlink_dir: _deny("fs.list"),
    obj_from_file_symlink: _deny("obj.fromFile"),
    // Its own object is created (allowed), then the write out through the symlink is denied.
    obj_to_file_symlink: ["obj.create:allow", "obj.toFile:deny"],
    proc_chdir_escape: _deny("proc.chdir"),
    // chdir is not a capability decision (the cwd is only where relative paths start).
    proc_chdir_symlink: ["proc.chdir:-", "fs.read:deny", "proc.chdir:-"],
    obj_other_namespace: _deny("obj.list"),
    proc_spawn_escalate: _deny("proc.spawn"),
    proc_signal_other: _deny("proc.signal"),
    net_fetch_loopback: _deny("net.fetch"),
    net_fetch_mapped_loopback: _deny("net.fetch"),
    net_fetch_metadata: _deny("net.fetch"),
    shell_run_no_grant: _deny("shell.run"),
    // It learns its pid through a real syscall; its reach for Deno.stdout is then denied.
    forge_stdout_done: ["obj.create:allow", "sandbox.deny:deny"],
  });
  // Checked on its own: one record per read, allow or deny as the race fell.
  delete out["symlink_race_file"];
  return out;
}
