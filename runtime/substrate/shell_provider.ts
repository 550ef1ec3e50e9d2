/**
 * The shell substrate: the host side of the kernel's `shell.run` primitive.
 * The kernel decides (which program, in which cwd, which view of the
 * workspace, through which network proxy, for how long); this provider runs
 * the program so that it cannot do more than that.
 *
 * Every run:
 * - takes an argv, never a shell string; `argv[0]` without a slash is looked
 *   up on the run's PATH (on the host, whose /usr is what the sandbox sees);
 * - gets a scrubbed environment: only `PATH=/usr/bin:/bin`, `HOME=/tmp`,
 *   `LANG=C.UTF-8`, plus the request's `env`, and, under bubblewrap, `PWD`
 *   (the sandbox working directory) and, with a proxy, the proxy variables
 *   of {@linkcode proxyEnvironment}; nothing of the kernel's environment (API
 *   keys, tokens) is inherited;
 * - has no standard input;
 * - runs in its own session and process group; past `timeoutMs` the whole
 *   group is killed (SIGKILL), and so is whatever the program left running
 *   when it exits (a run never leaves a daemon behind);
 * - keeps at most `maxOutputBytes` of stdout and stderr together; past it the
 *   output is cut (`truncated: true`) and the group is killed.
 *
 * Under bubblewrap (`confined: true`) the program runs with every namespace
 * unshared (user, pid, ipc, uts, cgroup and network: the host's network
 * namespace is never shared, so neither the host's loopback nor the kernel's
 * control plane is reachable), `--die-with-parent`, `--new-session`, all
 * capabilities dropped, and a mount namespace that holds only: read-only
 * /usr, /bin, /lib, /lib64 (bound, or mirrored as the host's symlinks) and
 * /etc/alternatives; a fresh /proc of its own pid namespace, a minimal /dev,
 * an empty /tmp; and the request's `view` of the cwd subtree under
 * /workspace/<path>, applied by {@linkcode viewMountArgs} (an `rw` entry
 * writable, a `ro` entry read-only, a `hidden` directory an empty read-only
 * tmpfs, a `hidden` file unreadable), with the working directory at
 * /workspace/<cwd>. No /home, no /root, no other part of the workspace, no
 * other /etc file (no /etc/hosts or /etc/resolv.conf: names are resolved by
 * the kernel's proxy). A symlink inside the view resolves inside the view.
 *
 * With a `proxy`, the sandbox also holds the proxy's unix socket at
 * /run/libos/proxy.sock, and the Deno binary and shell_relay.ts read-only
 * under /run/libos; bubblewrap starts the relay (Deno with permission only to
 * listen on 127.0.0.1:3128, use the socket and run the program), which runs
 * the program as its child and forwards each connection to 127.0.0.1:3128 in
 * the sandbox's own network namespace to the kernel's
 * {@linkcode ShellNetProxy}, which decides it. Without a proxy the program
 * has no network at all (only its own empty loopback).
 *
 * Without bubblewrap (`bubblewrap: "off"`, or "auto" where `bwrap` is missing
 * or cannot create namespaces) a run is refused with EPERM, unless the
 * operator constructed the provider with `unconfined: true`: then the run is
 * NOT confined and says so (`confined: false`): the program runs as the
 * kernel's own user, in the cwd on the host, and sees the whole host
 * filesystem, the rest of the workspace and the host's network; `view` and
 * `proxy` are not applied. Only the argv discipline, the scrubbed
 * environment, no stdin, the timeout, the output cap and the process-group
 * kill hold (a program that starts its own session escapes the group kill).
 * {@linkcode ShellProvider.confinement} says which of the three holds, in a
 * sentence the kernel prints at start.
 *
 * Errors are {@linkcode LibosError}s: EINVAL for a bad request (a malformed
 * view, a cwd that is not a real path, a missing proxy socket), ENOENT for a
 * program not on the PATH or a cwd that does not exist, EPERM for a cwd that
 * leads outside the workspace, for a view entry that changed into a path
 * leading elsewhere, and for a run that cannot be confined without
 * `unconfined`; EINTERNAL when bubblewrap is required but does not work,
 * ECANCELED when `signal` aborts or the provider is disposed. A timeout, a
 * cut output or a non-zero exit are results, not errors.
 *
 * @module
 */
import { isAbsolute, join, posix, relative, sep } from "node:path";
import { libosError } from "../errors.ts";
import { proxyEnvironment, relayInvocation, type ShellNetProxy } from "./shell_proxy.ts";
import {
  checkViewEntries,
  isNormalPath,
  SANDBOX_WORKSPACE,
  type ShellView,
  viewMountArgs,
} from "./shell_view.ts";

/** Whether to confine runs with bubblewrap: when it works, always, or never. */
export type ShellBubblewrapMode = "auto" | "off" | "require";

/** Options of {@linkcode ShellProvider}. */
export interface ShellProviderOptions {
  /** The workspace: an absolute host directory. */
  workspace: string;
  /** Default "auto": bubblewrap where it works; elsewhere runs are refused (or unconfined, see `unconfined`). */
  bubblewrap?: ShellBubblewrapMode;
  /**
   * Default false. True lets runs go ahead unconfined where bubblewrap is
   * off or does not work (the operator's explicit choice, e.g. a CLI flag);
   * false refuses them with EPERM. Not allowed with `bubblewrap: "require"`.
   */
  unconfined?: boolean;
}

/** What confines runs here, and the sentence that says so. */
export interface ShellConfinement {
  /**
   * "bubblewrap": runs are confined; "unconfined": runs go ahead without
   * confinement (`unconfined: true`); "refused": runs are refused.
   */
  kind: "bubblewrap" | "unconfined" | "refused";
  /** A plain statement of what holds, for the kernel to print at start. */
  notice: string;
}

/** One run, as the kernel decided it. */
export interface ShellRequest {
  /** The program and its arguments; no shell is involved. */
  argv: string[];
  /** The working directory: workspace-relative, normal form, a real path ("" is the workspace root). */
  cwd: string;
  /**
   * What the program sees of the cwd subtree: the entries of a
   * {@linkcode ShellView} computed for this cwd (the first one is the cwd).
   */
  view: ShellView["entries"];
  /** The kernel's network proxy for this run, or null for no network at all. */
  proxy: Pick<ShellNetProxy, "socketPath"> | null;
  /** Deadline of the run; past it the process group is killed. */
  timeoutMs: number;
  /** Most bytes of stdout and stderr together (default 1 MiB); past it the output is cut and the group killed. */
  maxOutputBytes?: number;
  /** Variables added to the scrubbed environment (they may replace PATH, HOME or LANG). */
  env?: Record<string, string>;
  /** Absolute host paths bound read-only at their own paths (e.g. an installed package). */
  readOnly?: string[];
}

/** A long-lived program to start (see {@linkcode ShellProvider.launch}). */
export type ShellLaunchRequest = Omit<ShellRequest, "timeoutMs" | "maxOutputBytes">;

/** A started program: its pipes, its end, and how to kill it. */
export interface ShellChild {
  /** The host pid of bwrap (or of the program, unconfined). */
  pid: number;
  stdin: WritableStream<Uint8Array>;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Settles when it ends. */
  status: Promise<Deno.CommandStatus>;
  /** Whether bubblewrap confines it. */
  confined: boolean;
  /** Kills its whole process group (SIGKILL). */
  kill(): void;
}

/** What a run did. */
export interface ShellResult {
  /** The exit code, or null when the process ended by a signal. */
  code: number | null;
  /** The signal that ended the process (e.g. "SIGKILL" after a timeout), or null. */
  signal: string | null;
  /** Standard output (possibly cut). */
  stdout: Uint8Array;
  /** Standard error (possibly cut). */
  stderr: Uint8Array;
  /** True when the output passed `maxOutputBytes` and was cut. */
  truncated: boolean;
  /** True when the run passed `timeoutMs` and was killed. */
  timedOut: boolean;
  /** True when the run was confined by bubblewrap. */
  confined: boolean;
}

/** Options of {@linkcode ShellProvider.run}. */
export interface ShellRunOptions {
  /** Kills the run and rejects with ECANCELED. */
  signal?: AbortSignal;
}

/** Default of {@linkcode ShellRequest.maxOutputBytes}: 1 MiB. */
export const DEFAULT_SHELL_MAX_OUTPUT_BYTES = 1024 * 1024;

const _BASE_ENV: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: "/tmp", LANG: "C.UTF-8" };

/** How long to wait for the output pipes once the process group is gone. */
const _DRAIN_GRACE_MS = 1_000;

const _NOTICES = {
  bubblewrap: "shell.run programs run under bubblewrap: no host network (only the kernel's " +
    "proxy, for net: grants), and only the workspace paths their fs grants show.",
  unconfined: "shell.run programs run UNCONFINED (bubblewrap is off or not working, and " +
    "unconfined runs were allowed): they see the whole host filesystem and network as the " +
    "kernel's user; only argv, the scrubbed environment, the timeout and the output cap hold.",
  refused: "shell.run is refused: bubblewrap (bwrap) is off, missing or not working here, so " +
    "programs cannot be confined; install bubblewrap, or allow unconfined runs explicitly " +
    "(`libos start --unconfined-shell`).",
} as const;

/** Runs argv commands in the workspace, confined by bubblewrap (or refused, or unconfined if allowed). */
export class ShellProvider {
  readonly #workspace: string;

  /** The workspace: an absolute host directory. */
  get workspace(): string {
    return this.#workspace;
  }

  readonly #mode: ShellBubblewrapMode;
  readonly #unconfined: boolean;
  #workspaceReal: Promise<string> | null = null;
  readonly #running = new Set<{ kill(): void; done: Promise<unknown> }>();
  #disposed = false;

  constructor(options: ShellProviderOptions) {
    if (!isAbsolute(options.workspace)) {
      throw new TypeError(
        `Cannot use workspace '${options.workspace}': it must be an absolute path`,
      );
    }
    this.#workspace = options.workspace;
    this.#mode = options.bubblewrap ?? "auto";
    this.#unconfined = options.unconfined ?? false;
    if (this.#unconfined && this.#mode === "require") {
      throw new TypeError(
        `Cannot allow unconfined shell runs with bubblewrap "require": choose one`,
      );
    }
  }

  /** What confines runs here (see the module doc), with a notice for the kernel to print. */
  async confinement(): Promise<ShellConfinement> {
    const kind = await this.#bubblewrap()
      ? "bubblewrap"
      : this.#unconfined
      ? "unconfined"
      : "refused";
    return { kind, notice: _NOTICES[kind] };
  }

  /** Runs one command to its end (or its deadline) and reports what it did. */
  async run(request: ShellRequest, options: ShellRunOptions = {}): Promise<ShellResult> {
    const { argv, maxOutputBytes } = _validate(request);
    const name = argv[0] as string;
    if (this.#disposed) {
      throw libosError("ECANCELED", `Cannot run '${name}': the provider is closed`);
    }
    if (options.signal?.aborted) {
      throw libosError("ECANCELED", `Cannot run '${name}': the run was cancelled`);
    }
    const { command, confined } = await this.#command(request, _STDIO);
    if (this.#disposed || options.signal?.aborted) {
      throw libosError("ECANCELED", `Cannot run '${name}': the run was cancelled`);
    }
    return await this.#spawn(command, {
      name,
      timeoutMs: request.timeoutMs,
      maxOutputBytes,
      confined,
      signal: options.signal,
    });
  }

  /** The command of a request: bwrap around it where it works, else unconfined if allowed. */
  async #command(
    request: ShellLaunchRequest,
    stdio: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr" | "detached">,
  ): Promise<{ command: Deno.Command; confined: boolean }> {
    const name = request.argv[0] as string;
    const env = { ..._BASE_ENV, ...request.env };
    const cwd = await this.#resolveCwd(request.cwd, name);
    const program = await _findProgram(name, env["PATH"] ?? "");
    const confined = await this.#bubblewrap();
    if (!confined) {
      if (this.#mode === "require") {
        throw libosError(
          "EINTERNAL",
          `Cannot run '${name}': bubblewrap is required but 'bwrap' is missing or cannot create namespaces here`,
        );
      }
      if (!this.#unconfined) {
        throw libosError(
          "EPERM",
          `Cannot run '${name}': the program cannot be confined (bubblewrap is ${
            this.#mode === "off" ? "turned off" : "missing or not working here"
          }); install bubblewrap, or let the operator allow unconfined runs explicitly ` +
            "(`libos start --unconfined-shell`, or the ShellProvider option `unconfined: true`)",
        );
      }
    }
    const command = confined
      ? await this.#bubblewrapCommand(request, { env, program, root: cwd.root, stdio })
      : new Deno.Command(program, {
        args: request.argv.slice(1),
        cwd: join(cwd.root, cwd.relative),
        clearEnv: true,
        env,
        ...stdio,
      });
    return { command, confined };
  }

  /**
   * Starts a long-lived program (an MCP server) confined like a run, with
   * its standard input, output and error piped to the caller: the same
   * scrubbed environment, bubblewrap sandbox, view and refusal without
   * bubblewrap; no timeout and no output cap (the caller reads the streams).
   * `readOnly` host folders (and the program itself, when it lies outside the
   * system folders) are bound read-only at their own paths. `kill()` kills
   * its process group; disposing the provider kills it too.
   */
  async launch(request: ShellLaunchRequest): Promise<ShellChild> {
    const name = request.argv[0] ?? "";
    _validate({ ...request, timeoutMs: 1 });
    if (this.#disposed) {
      throw libosError("ECANCELED", `Cannot start '${name}': the provider is closed`);
    }
    const { command, confined } = await this.#command(request, _SERVER_STDIO);
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      throw libosError("ENOENT", `Cannot start '${name}': ${(error as Error).message}`, {}, error);
    }
    const kill = () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    };
    const status = child.status;
    const entry = { kill, done: status.catch(() => {}) as Promise<unknown> };
    this.#running.add(entry);
    status.finally(() => {
      kill();
      this.#running.delete(entry);
    }).catch(() => {});
    return {
      pid: child.pid,
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      status,
      confined,
      kill,
    };
  }

  /** bwrap, the view's mounts, and either the program or the relay that runs it. */
  async #bubblewrapCommand(
    request: ShellLaunchRequest,
    how: {
      env: Record<string, string>;
      program: string;
      root: string;
      stdio: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr" | "detached">;
    },
  ): Promise<Deno.Command> {
    const name = request.argv[0] as string;
    const sandboxCwd = request.cwd === ""
      ? SANDBOX_WORKSPACE
      : `${SANDBOX_WORKSPACE}/${request.cwd}`;
    const mounts = await viewMountArgs(request.view, { workspace: how.root, cwd: request.cwd });
    for (const path of _readOnlyBinds(request, how.program)) mounts.push("--ro-bind", path, path);
    let env = how.env;
    let run = [how.program, ...request.argv.slice(1)];
    if (request.proxy !== null) {
      const socketPath = request.proxy.socketPath;
      const socket = await Deno.lstat(socketPath).catch(() => null);
      if (socket === null || socket.isSocket !== true) {
        throw libosError(
          "EINVAL",
          `Cannot run '${name}': the proxy socket '${socketPath}' does not exist or is not a socket`,
        );
      }
      const relay = await relayInvocation({
        socketPath,
        program: posix.isAbsolute(how.program) ? how.program : posix.join(sandboxCwd, how.program),
        args: request.argv.slice(1),
        env: { ...how.env, PWD: sandboxCwd, ...proxyEnvironment() },
      });
      mounts.push(...relay.mounts);
      env = relay.relayEnv;
      run = relay.argv;
    }
    return new Deno.Command("bwrap", {
      args: [..._bubblewrapArgs({ env, mounts, sandboxCwd }), "--", ...run],
      cwd: "/",
      clearEnv: true,
      env: {},
      ...how.stdio,
    });
  }

  /** Kills every run in flight (they reject with ECANCELED) and refuses new ones. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    const running = [...this.#running];
    for (const run of running) run.kill();
    await Promise.allSettled(running.map((run) => run.done));
  }

  async #spawn(
    command: Deno.Command,
    how: {
      name: string;
      timeoutMs: number;
      maxOutputBytes: number;
      confined: boolean;
      signal: AbortSignal | undefined;
    },
  ): Promise<ShellResult> {
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      throw libosError(
        "ENOENT",
        `Cannot run '${how.name}': ${(error as Error).message}`,
        {},
        error,
      );
    }
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    const killGroup = () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    };
    const cancel = () => {
      cancelled = true;
      killGroup();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, how.timeoutMs);
    how.signal?.addEventListener("abort", cancel, { once: true });
    const entry = { kill: cancel, done: Promise.resolve() as Promise<unknown> };
    this.#running.add(entry);

    let kept = 0;
    const collect = async (
      reader: ReadableStreamDefaultReader<Uint8Array>,
      chunks: Uint8Array[],
    ) => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          const room = how.maxOutputBytes - kept;
          if (value.byteLength > room) {
            if (room > 0) chunks.push(value.slice(0, room));
            kept = how.maxOutputBytes;
            truncated = true;
            killGroup();
            return;
          }
          chunks.push(value);
          kept += value.byteLength;
        }
      } catch {
        // The pipe broke (the process was killed): keep what was read.
      } finally {
        await reader.cancel().catch(() => {});
      }
    };
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const readers = [child.stdout.getReader(), child.stderr.getReader()] as const;
    const drained = Promise.all([collect(readers[0], out), collect(readers[1], err)]);
    const finish = (async () => {
      try {
        const status = await child.status;
        // Whatever the program left running in its group goes with it.
        killGroup();
        // A process that left the group may still hold the pipes: wait a little, then stop reading.
        let graceTimer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((resolve) => {
          graceTimer = setTimeout(resolve, _DRAIN_GRACE_MS);
        });
        await Promise.race([drained, grace]);
        clearTimeout(graceTimer);
        for (const reader of readers) await reader.cancel().catch(() => {});
        await drained;
        return status;
      } finally {
        clearTimeout(timer);
        how.signal?.removeEventListener("abort", cancel);
      }
    })();
    entry.done = finish.catch(() => {});
    let status: Deno.CommandStatus;
    try {
      status = await finish;
    } finally {
      this.#running.delete(entry);
    }
    if (cancelled) throw libosError("ECANCELED", `Cannot run '${how.name}': the run was cancelled`);
    return {
      code: status.signal === null ? status.code : null,
      signal: status.signal,
      stdout: _concat(out),
      stderr: _concat(err),
      truncated,
      timedOut,
      confined: how.confined,
    };
  }

  /** The workspace's real path and the cwd's; refuses a cwd that leads outside or is not real. */
  async #resolveCwd(cwd: string, name: string): Promise<{ root: string; relative: string }> {
    const root = await (this.#workspaceReal ??= Deno.realPath(this.#workspace));
    let real: string;
    try {
      real = await Deno.realPath(join(root, cwd));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw libosError(
          "ENOENT",
          `Cannot run '${name}' in '${cwd}': the directory does not exist`,
          {
            path: cwd,
          },
        );
      }
      throw libosError(
        "EINTERNAL",
        `Cannot run '${name}' in '${cwd}': ${(error as Error).message}`,
        {
          path: cwd,
        },
        error,
      );
    }
    const rel = relative(root, real);
    if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw libosError(
        "EPERM",
        `Cannot run '${name}' in '${cwd}': it leads outside the workspace`,
        {
          path: cwd,
        },
      );
    }
    const stat = await Deno.stat(real);
    if (!stat.isDirectory) {
      throw libosError("EINVAL", `Cannot run '${name}' in '${cwd}': it is not a directory`, {
        path: cwd,
      });
    }
    const relativePath = rel.split(sep).join("/");
    if (relativePath !== cwd) {
      throw libosError(
        "EINVAL",
        `Cannot run '${name}' in '${cwd}': the cwd must be a real path (it leads to '${relativePath}')`,
        { path: cwd },
      );
    }
    return { root, relative: relativePath };
  }

  /** Whether runs here go under bubblewrap. */
  async #bubblewrap(): Promise<boolean> {
    if (this.#mode === "off") return false;
    _probe ??= _probeBubblewrap();
    return await _probe;
  }
}

const _STDIO = { stdin: "null", stdout: "piped", stderr: "piped", detached: true } as const;
const _SERVER_STDIO = { stdin: "piped", stdout: "piped", stderr: "piped", detached: true } as const;

const _SYSTEM = ["/usr/", "/bin/", "/lib/", "/lib64/"];

/** Host paths bound read-only: the request's `readOnly`, and the program outside the system folders. */
function _readOnlyBinds(request: ShellLaunchRequest, program: string): string[] {
  const out = [...(request.readOnly ?? [])];
  if (isAbsolute(program) && !_SYSTEM.some((s) => program.startsWith(s))) out.push(program);
  return out.filter((p, i) => out.indexOf(p) === i && isAbsolute(p));
}

function _validate(request: ShellRequest): { argv: string[]; maxOutputBytes: number } {
  const argv = request.argv;
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== "string")) {
    throw libosError("EINVAL", "Cannot run '': argv must be a non-empty list of strings");
  }
  const name = argv[0] as string;
  if (name === "" || argv.some((a) => a.includes("\0"))) {
    throw libosError("EINVAL", `Cannot run '${name}': argv holds an empty program or a NUL byte`);
  }
  const cwd = request.cwd;
  if (typeof cwd !== "string" || !isNormalPath(cwd)) {
    throw libosError(
      "EINVAL",
      `Cannot run '${name}' in '${cwd}': the cwd must be a normalised workspace-relative path`,
      {
        path: String(cwd),
      },
    );
  }
  checkViewEntries(request.view, cwd);
  const proxy = request.proxy;
  if (
    proxy !== null &&
    (typeof proxy !== "object" || typeof proxy.socketPath !== "string" ||
      !isAbsolute(proxy.socketPath))
  ) {
    throw libosError(
      "EINVAL",
      `Cannot run '${name}': proxy must be null or {socketPath} with an absolute path`,
    );
  }
  if (!Number.isInteger(request.timeoutMs) || request.timeoutMs <= 0) {
    throw libosError("EINVAL", `Cannot run '${name}': timeoutMs must be a positive integer`);
  }
  const maxOutputBytes = request.maxOutputBytes ?? DEFAULT_SHELL_MAX_OUTPUT_BYTES;
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw libosError(
      "EINVAL",
      `Cannot run '${name}': maxOutputBytes must be a non-negative integer`,
    );
  }
  for (const [key, value] of Object.entries(request.env ?? {})) {
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || typeof value !== "string" || value.includes("\0")
    ) {
      throw libosError(
        "EINVAL",
        `Cannot run '${name}': the environment variable '${key}' is malformed`,
      );
    }
  }
  return { argv, maxOutputBytes };
}

/** `argv[0]` itself when it holds a slash, else its first executable match on PATH. */
async function _findProgram(name: string, path: string): Promise<string> {
  if (name.includes("/")) return name;
  for (const dir of path.split(":")) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      const stat = await Deno.stat(candidate);
      if (stat.isFile && stat.mode !== null && (stat.mode & 0o111) !== 0) return candidate;
    } catch {
      // not here
    }
  }
  throw libosError("ENOENT", `Cannot run '${name}': no such program on the PATH '${path}'`);
}

/** The system paths a program needs, bound read-only or mirrored as the host's symlinks. */
function _systemArgs(): string[] {
  const args: string[] = [];
  for (const path of ["/usr", "/bin", "/lib", "/lib64", "/etc/alternatives"]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch {
      continue;
    }
    if (info.isSymlink) args.push("--symlink", Deno.readLinkSync(path), path);
    else if (info.isDirectory) args.push("--ro-bind", path, path);
  }
  return args;
}

/** The bwrap arguments before `--`: namespaces, environment, system paths, the given mounts. */
function _bubblewrapArgs(
  options: { env: Record<string, string>; mounts: string[]; sandboxCwd: string },
): string[] {
  const args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"];
  args.push("--clearenv");
  for (const [key, value] of Object.entries(options.env)) args.push("--setenv", key, value);
  args.push(..._systemArgs());
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  args.push(...options.mounts);
  args.push("--chdir", options.sandboxCwd);
  return args;
}

/** The probe's answer, once per kernel process (installing bwrap later needs a restart). */
let _probe: Promise<boolean> | null = null;

/** Whether `bwrap` is installed and can build this provider's sandbox here. */
async function _probeBubblewrap(): Promise<boolean> {
  try {
    const probe = await new Deno.Command("bwrap", {
      args: [
        ..._bubblewrapArgs({
          env: _BASE_ENV,
          mounts: [
            ...["--ro-bind", "/usr", SANDBOX_WORKSPACE],
            ...["--tmpfs", `${SANDBOX_WORKSPACE}/bin`, "--remount-ro", `${SANDBOX_WORKSPACE}/bin`],
          ],
          sandboxCwd: SANDBOX_WORKSPACE,
        }),
        "--",
        "/usr/bin/env",
        "true",
      ],
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return probe.success;
  } catch {
    return false;
  }
}

function _concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
