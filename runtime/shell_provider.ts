/**
 * The shell substrate: the host side of the kernel's `shell.run` primitive.
 * The kernel decides (which program, which cwd, read or write access,
 * network or not, how long); this provider runs the program so that it
 * cannot do more than that.
 *
 * Every run:
 * - takes an argv, never a shell string; `argv[0]` without a slash is looked
 *   up on the run's PATH (on the host, whose /usr is what the sandbox sees);
 * - gets a scrubbed environment: only `PATH=/usr/bin:/bin`, `HOME=/tmp`,
 *   `LANG=C.UTF-8`, plus the request's `env` (and, under bubblewrap, `PWD`,
 *   which bwrap always sets to the sandbox working directory); nothing of the
 *   kernel's environment (API keys, tokens) is inherited;
 * - has no standard input;
 * - runs in its own session and process group; past `timeoutMs` the whole
 *   group is killed (SIGKILL), and so is whatever the program left running
 *   when it exits (a run never leaves a daemon behind);
 * - keeps at most `maxOutputBytes` of stdout and stderr together; past it the
 *   output is cut (`truncated: true`) and the group is killed.
 *
 * Under bubblewrap (`confined: true`) the program runs with every namespace
 * unshared (user, pid, ipc, uts, cgroup, and network unless `network` is
 * true, when only the network namespace is shared), `--die-with-parent`,
 * `--new-session`, all capabilities dropped, and a mount namespace that holds
 * only: read-only /usr, /bin, /lib, /lib64 (bound, or mirrored as the host's
 * symlinks), /etc/alternatives, and, with network only, /etc/resolv.conf and
 * /etc/hosts; a fresh /proc of its own pid namespace, a minimal /dev, an empty
 * /tmp; and the cwd subtree of the workspace bound at the same
 * workspace-relative path under /workspace (read-only unless `access` is
 * "write"), which is the working directory. No /home, no /root, no other
 * part of the workspace, no other /etc file. A symlink inside the subtree
 * resolves inside that view, so it cannot lead out of it.
 *
 * Without bubblewrap (`bubblewrap: "off"`, or "auto" where `bwrap` is missing
 * or cannot create namespaces) a run is NOT confined and says so
 * (`confined: false`): the program runs as the kernel's own user, in the cwd
 * on the host, and sees the whole host filesystem, the rest of the workspace
 * and the network, and `access: "read"` is not enforced. Only the argv
 * discipline, the scrubbed environment, the timeout, the output cap and the
 * process-group kill hold (a program that starts its own session escapes the
 * group kill). A kernel that needs the confinement should construct the
 * provider with `bubblewrap: "require"` or refuse `shell.run` when
 * {@linkcode ShellProvider.confinement} answers "none".
 *
 * Errors are {@linkcode LibosError}s: EINVAL for a bad request, ENOENT for a
 * program not on the PATH or a cwd that does not exist, EPERM for a cwd that
 * leads outside the workspace, EINTERNAL when bubblewrap is required but does
 * not work, ECANCELED when `signal` aborts or the provider is disposed. A
 * timeout, a cut output or a non-zero exit are results, not errors.
 *
 * @module
 */
import { isAbsolute, join, relative, sep } from "node:path";
import { libosError } from "./errors.ts";

/** Whether to confine runs with bubblewrap: when it works, always, or never. */
export type ShellBubblewrapMode = "auto" | "off" | "require";

/** Options of {@linkcode ShellProvider}. */
export interface ShellProviderOptions {
  /** The workspace: an absolute host directory. */
  workspace: string;
  /** Default "auto": bubblewrap where it works, an unconfined run (`confined: false`) elsewhere. */
  bubblewrap?: ShellBubblewrapMode;
}

/** One run, as the kernel decided it. */
export interface ShellRequest {
  /** The program and its arguments; no shell is involved. */
  argv: string[];
  /** The working directory, workspace-relative and already resolved ("" is the workspace root). */
  cwd: string;
  /** What the process holds on the cwd subtree: "write" makes the bind writable. */
  access: "read" | "write";
  /** Whether the program may use the network. */
  network: boolean;
  /** Deadline of the run; past it the process group is killed. */
  timeoutMs: number;
  /** Most bytes of stdout and stderr together (default 1 MiB); past it the output is cut and the group killed. */
  maxOutputBytes?: number;
  /** Variables added to the scrubbed environment (they may replace PATH, HOME or LANG). */
  env?: Record<string, string>;
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

/** Where the cwd subtree appears inside the sandbox. */
export const SANDBOX_WORKSPACE = "/workspace";

const _BASE_ENV: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: "/tmp", LANG: "C.UTF-8" };

/** How long to wait for the output pipes once the process group is gone. */
const _DRAIN_GRACE_MS = 1_000;

/** Runs argv commands in the workspace, confined by bubblewrap where it can be. */
export class ShellProvider {
  readonly #workspace: string;
  readonly #mode: ShellBubblewrapMode;
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
  }

  /** What confines runs here: "bubblewrap", or "none" (see the module doc for what that means). */
  async confinement(): Promise<"bubblewrap" | "none"> {
    if (this.#mode === "off") return "none";
    return await this.#bubblewrapWorks() ? "bubblewrap" : "none";
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
    const env = { ..._BASE_ENV, ...request.env };
    const cwd = await this.#resolveCwd(request.cwd, name);
    const program = await _findProgram(name, env["PATH"] ?? "");
    const confined = await this.confinement() === "bubblewrap";
    if (!confined && this.#mode === "require") {
      throw libosError(
        "EINTERNAL",
        `Cannot run '${name}': bubblewrap is required but 'bwrap' is missing or cannot create namespaces here`,
      );
    }
    const sandboxCwd = cwd.relative === ""
      ? SANDBOX_WORKSPACE
      : `${SANDBOX_WORKSPACE}/${cwd.relative}`;
    const command = confined
      ? new Deno.Command("bwrap", {
        args: [
          ..._bubblewrapArgs({
            env,
            network: request.network,
            hostCwd: cwd.host,
            sandboxCwd,
            writable: request.access === "write",
          }),
          "--",
          program,
          ...argv.slice(1),
        ],
        cwd: "/",
        clearEnv: true,
        env: {},
        ..._STDIO,
      })
      : new Deno.Command(program, {
        args: argv.slice(1),
        cwd: cwd.host,
        clearEnv: true,
        env,
        ..._STDIO,
      });
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

  /** The cwd's host path and its real workspace-relative path; refuses a path that leads outside. */
  async #resolveCwd(cwd: string, name: string): Promise<{ host: string; relative: string }> {
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
    return { host: real, relative: rel.split(sep).join("/") };
  }

  #bubblewrapWorks(): Promise<boolean> {
    _probe ??= _probeBubblewrap();
    return _probe;
  }
}

const _STDIO = { stdin: "null", stdout: "piped", stderr: "piped", detached: true } as const;

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
  if (
    typeof cwd !== "string" || cwd.startsWith("/") || cwd.includes("\0") || cwd.includes("\\") ||
    (cwd !== "" && cwd.split("/").some((part) => part === "" || part === "." || part === ".."))
  ) {
    throw libosError(
      "EINVAL",
      `Cannot run '${name}' in '${cwd}': the cwd must be a normalised workspace-relative path`,
      {
        path: String(cwd),
      },
    );
  }
  if (request.access !== "read" && request.access !== "write") {
    throw libosError("EINVAL", `Cannot run '${name}': access must be "read" or "write"`);
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

function _bubblewrapArgs(
  options: {
    env: Record<string, string>;
    network: boolean;
    hostCwd: string;
    sandboxCwd: string;
    writable: boolean;
  },
): string[] {
  const args = ["--unshare-all"];
  if (options.network) args.push("--share-net");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv");
  for (const [key, value] of Object.entries(options.env)) args.push("--setenv", key, value);
  args.push(..._systemArgs());
  if (options.network) {
    for (const file of ["/etc/resolv.conf", "/etc/hosts"]) {
      try {
        Deno.statSync(file);
        args.push("--ro-bind", file, file);
      } catch {
        // absent on this host
      }
    }
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  args.push(options.writable ? "--bind" : "--ro-bind", options.hostCwd, options.sandboxCwd);
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
          network: false,
          hostCwd: "/usr",
          sandboxCwd: SANDBOX_WORKSPACE,
          writable: false,
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
