/**
 * How an isolate host is started: the `deno run` command line (no `--allow-*`
 * flag, a V8 heap limit, no code generation from strings, no remote modules,
 * cached npm packages only), the host's import map, and — where bubblewrap
 * works — the `bwrap` wrapper: every namespace unshared (so no network), and a
 * read-only view of only the Deno binary, the system libraries, the zod
 * package in the module cache and the host's own three files. No workspace,
 * no /home, no /etc, no host /proc (only a procfs of the sandbox's own pid
 * namespace).
 *
 * Tool code never needs a file: the kernel hands the host each tool's source,
 * and the worker imports it as a `data:` module; the SDK (`libos/tool`) and
 * the worker's own program are `data:` URLs in the import map.
 *
 * @module
 */
import { cp } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { libosError } from "../runtime/mod.ts";
import type { SandboxLimits } from "./limits.ts";

/** Whether to run hosts under bubblewrap: when it works, always, or never. */
export type BubblewrapMode = "auto" | "require" | "off";

/** What confines the isolate hosts, and the sentence that says so. */
export interface Confinement {
  kind: "bubblewrap" | "permissions-only";
  /** A plain statement of what holds and what does not, for the kernel to print at start. */
  notice: string;
}

/** A command that starts one isolate host. */
export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  confinement: Confinement;
  /**
   * Without bubblewrap: a folder holding only the npm packages a host may
   * load (zod). Each host then runs with a private `DENO_DIR` of its own
   * (see {@linkcode hostDenoDir}), so that no `npm:` specifier reaches the
   * kernel's cache and no two hosts share Deno's storage.
   */
  npmRoot: string | null;
}

/** Where the pieces a host needs live on this machine. */
export interface HostPaths {
  /** The Deno binary. */
  deno: string;
  /** The Deno cache directory (`DENO_DIR`). */
  denoDir: string;
  /** The zod package's folder in the npm cache (`…/npm/<registry>/zod`). */
  zodDir: string;
  /** The zod version the kernel uses. */
  zodVersion: string;
  /** The host's own files (host_main.ts and what it imports). */
  hostFiles: string[];
  /** The host's entry file. */
  hostMain: string;
}

/** Inside the sandbox, the cache lives here. */
const _SANDBOX_DENO_DIR = "/deno";

/** The files the host process loads (its static module graph). */
const _HOST_FILES = ["host_main.ts", "frame.ts", "protocol.ts"];

/** Finds the Deno binary, the cache, zod and the host's files. */
export function hostPaths(): HostPaths {
  const zodEntry = fromFileUrl(import.meta.resolve("zod"));
  // …/<DENO_DIR>/npm/<registry>/zod/<version>/index.js
  const versionDir = dirname(zodEntry);
  const zodDir = dirname(versionDir);
  const npmAt = zodEntry.lastIndexOf(`${sep}npm${sep}`);
  if (npmAt < 0) {
    throw libosError(
      "EINTERNAL",
      `Cannot find the npm cache: zod resolves to '${zodEntry}', outside a DENO_DIR/npm folder`,
    );
  }
  const here = dirname(fromFileUrl(import.meta.url));
  return {
    deno: Deno.execPath(),
    denoDir: zodEntry.slice(0, npmAt),
    zodDir,
    zodVersion: versionDir.slice(zodDir.length + 1),
    hostFiles: _HOST_FILES.map((f) => join(here, f)),
    hostMain: join(here, "host_main.ts"),
  };
}

/** The host's import map, as a `data:` URL: the SDK and the worker program inline, zod from the cache. */
export async function hostImportMap(paths: HostPaths): Promise<string> {
  const here = dirname(fromFileUrl(import.meta.url));
  const sdk = await Deno.readTextFile(join(here, "..", "runtime", "tool_sdk.ts"));
  const worker = await Deno.readTextFile(join(here, "worker_main.ts"));
  const map = {
    imports: {
      "libos/tool": _dataUrl(sdk),
      "libos/sandbox-worker": _dataUrl(worker),
      "zod": `npm:zod@${paths.zodVersion}`,
      "zod/": `npm:/zod@${paths.zodVersion}/`,
      // Node modules that would start an unlocked worker or reach the host's
      // stdio: a tool that imports one fails to load.
      ...Object.fromEntries(
        _REFUSED_NODE_MODULES.flatMap((m) => [[`node:${m}`, _refusal(m)], [m, _refusal(m)]]),
      ),
    },
  };
  return `data:application/json,${encodeURIComponent(JSON.stringify(map))}`;
}

const _REFUSED_NODE_MODULES = [
  "worker_threads",
  "cluster",
  "child_process",
  "process",
  "tty",
  "vm",
  "inspector",
  "v8",
];

function _refusal(module: string): string {
  return _dataUrl(
    `throw new Error("Cannot import node:${module} in a tool: it is not available in the sandbox");`,
  );
}

function _dataUrl(typescript: string): string {
  const bytes = new TextEncoder().encode(typescript);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:application/typescript;base64,${btoa(binary)}`;
}

/** The `deno run` arguments of a host (after the binary). */
export function denoArgs(
  options: { importMap: string; hostMain: string; limits: SandboxLimits },
): string[] {
  const { limits } = options;
  return [
    "run",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--no-remote",
    "--cached-only",
    "--quiet",
    "--unstable-worker-options",
    `--import-map=${options.importMap}`,
    `--v8-flags=--max-old-space-size=${limits.heapMb},--disallow-code-generation-from-strings`,
    options.hostMain,
    "--max-frame",
    String(limits.messageBytes),
    "--max-workers",
    String(limits.workersPerHost),
    "--memory-poll",
    String(limits.memoryPollMs),
    "--idle-answer",
    String(limits.idleAnswerMs),
  ];
}

/**
 * The `bwrap` arguments that wrap a host: all namespaces unshared, read-only
 * binds of only what the host needs, a private /dev and /tmp.
 */
export function bubblewrapArgs(paths: HostPaths, systemDirs: string[]): string[] {
  const args = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--clearenv",
    "--setenv",
    "DENO_DIR",
    _SANDBOX_DENO_DIR,
    "--setenv",
    "NO_COLOR",
    "1",
    "--setenv",
    "DENO_NO_UPDATE_CHECK",
    "1",
  ];
  // The fresh mounts come first: a bind made after them may sit inside them
  // (a checkout under /tmp, say), and a tmpfs mounted later would hide it.
  // A fresh procfs of the sandbox's own pid namespace (it shows only the host's
  // processes): the host reads its resident memory from it for the kernel.
  args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", _SANDBOX_DENO_DIR);
  for (const dir of systemDirs) args.push("--ro-bind", dir, dir);
  args.push("--ro-bind", paths.deno, paths.deno);
  for (const file of paths.hostFiles) args.push("--ro-bind", file, file);
  const zodInside = _SANDBOX_DENO_DIR + paths.zodDir.slice(paths.denoDir.length);
  args.push("--ro-bind", paths.zodDir, zodInside, "--chdir", "/tmp");
  return args;
}

/** The library folders the Deno binary needs, where they exist. */
function _systemDirs(): string[] {
  return ["/lib", "/lib64", "/usr/lib", "/usr/lib64"].filter((dir) => {
    try {
      return Deno.statSync(dir).isDirectory;
    } catch {
      return false;
    }
  });
}

let _probe: Promise<boolean> | null = null;

/** Whether bubblewrap is installed and can start a Deno binary here (checked once per process). */
export function probeBubblewrap(paths: HostPaths): Promise<boolean> {
  _probe ??= (async () => {
    try {
      const out = await new Deno.Command("bwrap", {
        args: [...bubblewrapArgs(paths, _systemDirs()), paths.deno, "--version"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
        clearEnv: true,
      }).output();
      return out.success;
    } catch {
      return false;
    }
  })();
  return _probe;
}

const _BWRAP_NOTICE =
  "Tool isolates run under bubblewrap: an empty network namespace, and a read-only " +
  "view of only the Deno binary, the system libraries, the zod package and the host's " +
  "own code; tool code runs in permission-less workers and reaches the world only " +
  "through the syscall proxy.";

const _BARE_NOTICE = "bubblewrap (bwrap) is not available: isolate hosts run as plain `deno run` " +
  "subprocesses with no --allow-* flag. Tool code runs in permission-less workers as " +
  "data: modules, where Deno refuses file imports, but the hosts are not confined by a " +
  "mount or network namespace, so file reads through imports are not confined at the " +
  "operating-system level (Deno 2.9 lets a permission-less file: module import any " +
  "local file as JSON or text). Each host has a private DENO_DIR holding only zod. " +
  "Install bubblewrap to confine them.";

let _npmRoot: Promise<string> | null = null;

/**
 * The folder of npm packages hosts may load without bubblewrap: a copy of
 * zod, laid out as in a Deno cache (`npm/<registry>/zod/…`). Made once per
 * kernel process and removed when it exits.
 */
export function privateNpmRoot(paths: HostPaths): Promise<string> {
  _npmRoot ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "libos-npm-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch {
        // Gone already.
      }
    });
    const inCache = relative(join(paths.denoDir, "npm"), paths.zodDir);
    await cp(paths.zodDir, join(root, "npm", inCache), { recursive: true });
    return root;
  })();
  return _npmRoot;
}

/**
 * A private `DENO_DIR` for one host: its own emit cache and storage, and an
 * `npm` link to the packages of {@linkcode privateNpmRoot}. Removed with
 * `remove()` once the host has exited.
 */
export async function hostDenoDir(
  npmRoot: string,
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "libos-host-" });
  await Deno.symlink(join(npmRoot, "npm"), join(path, "npm"));
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** Plans the command that starts a host. */
export async function planLaunch(
  options: { limits: SandboxLimits; bubblewrap: BubblewrapMode },
): Promise<LaunchPlan> {
  const paths = hostPaths();
  const importMap = await hostImportMap(paths);
  const deno = denoArgs({ importMap, hostMain: paths.hostMain, limits: options.limits });
  const wrap = options.bubblewrap !== "off" && await probeBubblewrap(paths);
  if (options.bubblewrap === "require" && !wrap) {
    throw libosError(
      "EINTERNAL",
      "Cannot start isolate hosts: bubblewrap is required but 'bwrap' is missing or cannot create namespaces here",
    );
  }
  if (wrap) {
    return {
      command: "bwrap",
      args: [...bubblewrapArgs(paths, _systemDirs()), paths.deno, ...deno],
      env: {},
      cwd: "/",
      confinement: { kind: "bubblewrap", notice: _BWRAP_NOTICE },
      npmRoot: null,
    };
  }
  // DENO_DIR is set per host (hostDenoDir): never the kernel's own cache.
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  return {
    command: paths.deno,
    args: deno,
    env,
    cwd: "/",
    confinement: { kind: "permissions-only", notice: _BARE_NOTICE },
    npmRoot: await privateNpmRoot(paths),
  };
}
