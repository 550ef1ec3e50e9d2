/**
 * The interface the kernel calls to run tools in the sandbox, and its
 * implementation on isolate hosts. The kernel passes a tool (a file, or JIT
 * source), its arguments, a deadline and a `syscall` callback that serves one
 * syscall through the kernel's primitives (capability, journal, audit); it
 * gets back the tool's value or a typed error, and the content hash that ran.
 *
 * @example
 * ```ts ignore
 * await using runner = await IsolateToolRunner.create();
 * const result = await runner.run({
 *   pid: "p_1",
 *   tool: { path: "tools/count_lines.ts", hash },
 *   args: { path: "README.md" },
 *   deadlineMs: 5000,
 *   syscall: (name, args) => kernelSyscall(name, args),
 * });
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type ErrorData, type Grant, libosError, toErrorData } from "../runtime/mod.ts";
import {
  type BubblewrapMode,
  type Confinement,
  type LaunchPlan,
  planLaunch,
} from "./host_launch.ts";
import { HostPool, type HostPoolStats } from "./host_pool.ts";
import { IsolateHost, type SandboxAuditRecord } from "./isolate_host.ts";
import { resolveLimits, type SandboxLimits } from "./limits.ts";
import type { SyscallArgs, SyscallName, ToolCode, WirePermissions } from "./protocol.ts";
import type { StaticCheckProfile } from "./jit_static_check.ts";
import { closeStaticChecker, staticCheckApart } from "./static_check_apart.ts";
import { checkSyscallArgs } from "./syscall_args.ts";
import { PERMISSION_KINDS, workerPermissions } from "./worker_permissions.ts";

/** One tool call the kernel asks the sandbox to run. */
export interface ToolRunRequest {
  pid: string;
  /** A tool file (its hash as last described) or JIT source (its hash must match). */
  tool: { path: string; hash: string } | { source: string; hash: string };
  args: unknown;
  deadlineMs: number;
  /**
   * Serves one syscall (`"fs.readText"`, `"obj.create"`, `"clock.now"`, …) with
   * checked arguments; throws a LibosError on failure.
   */
  syscall(name: SyscallName, args: SyscallArgs): Promise<unknown>;
  /** Receives the tool's log lines. */
  log?: (line: string) => void;
  /** The process's grants, from which the worker's permissions are computed. Default: none. */
  grants?: readonly Grant[];
}

/** How a tool call ended, and which content hash ran (null if none could be read). */
export type ToolRunResult =
  | { ok: true; value: unknown; syscalls: number; hash: string }
  | { ok: false; error: ErrorData; syscalls: number; hash: string | null };

/** What a tool says about itself, and the content hash it was learned from. */
export interface ToolDescription {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  hash: string;
}

/** Runs tools in the sandbox. */
export interface ToolRunner extends AsyncDisposable {
  run(req: ToolRunRequest): Promise<ToolRunResult>;
  /** Loads a tool file inside an isolate and returns what it says about itself; throws EINVAL or ENOENT. */
  describe(path: string): Promise<ToolDescription>;
}

/** Options of {@linkcode IsolateToolRunner.create}. */
export interface IsolateToolRunnerOptions {
  /** Limits; every field defaults as in `DEFAULT_LIMITS`. */
  limits?: Partial<SandboxLimits>;
  /** Unbound hosts kept ready. Default 1. */
  warm?: number;
  /** Hosts alive at once. Default 4. */
  maxHosts?: number;
  /** Run hosts under bubblewrap: `"auto"` (when it works), `"require"`, `"off"`. Default `"auto"`. */
  bubblewrap?: BubblewrapMode;
  /** Receives refused messages and killed hosts, for the audit log. Default: none. */
  audit?: (record: SandboxAuditRecord) => void;
  /** Deadline of a describe call, in ms. Default 10 000. */
  describeDeadlineMs?: number;
  /**
   * Check tool code statically before it reaches a host (default true).
   * `false` only to test the isolate on its own, as a tool the check would
   * refuse meets it.
   */
  staticCheck?: boolean;
}

/** The `sha256:<hex>` content hash of a tool source. */
export function toolHash(source: string): string {
  return `sha256:${createHash("sha256").update(source).digest("hex")}`;
}

/** Static-check verdicts kept before the cache starts over. */
const _MAX_CHECKED = 4096;

/** The pseudo-process that describe calls run under: never a real process's host. */
export const DESCRIBE_PID = "@describe";

/** A {@linkcode ToolRunner} on a warm pool of isolate hosts. */
export class IsolateToolRunner implements ToolRunner {
  readonly #pool: HostPool;
  readonly #limits: SandboxLimits;
  readonly #plan: LaunchPlan;
  readonly #describeDeadline: number;
  /** Static-check verdicts by `<profile>:<hash>`: null when the code passed, else its problems. */
  readonly #checked = new Map<string, string | null>();
  readonly #staticCheck: boolean;

  private constructor(
    plan: LaunchPlan,
    limits: SandboxLimits,
    options: IsolateToolRunnerOptions,
  ) {
    this.#plan = plan;
    this.#limits = limits;
    this.#describeDeadline = options.describeDeadlineMs ?? 10_000;
    this.#staticCheck = options.staticCheck ?? true;
    const audit = options.audit;
    this.#pool = new HostPool({
      start: () => IsolateHost.start(audit ? { plan, limits, audit } : { plan, limits }),
      warm: options.warm ?? 1,
      maxHosts: options.maxHosts ?? 4,
      callsPerHost: limits.callsPerHost,
    });
  }

  /** Plans the hosts (probing bubblewrap) and starts the warm ones. */
  static async create(options: IsolateToolRunnerOptions = {}): Promise<IsolateToolRunner> {
    const limits = resolveLimits(options.limits);
    const plan = await planLaunch({ limits, bubblewrap: options.bubblewrap ?? "auto" });
    const runner = new IsolateToolRunner(plan, limits, options);
    await runner.#pool.fill();
    return runner;
  }

  /** What confines the hosts, with the notice the kernel prints at start. */
  get confinement(): Confinement {
    return this.#plan.confinement;
  }

  /** The limits in force. */
  get limits(): Readonly<SandboxLimits> {
    return this.#limits;
  }

  /** The pool's counts. */
  get stats(): HostPoolStats {
    return this.#pool.stats;
  }

  /** Runs one tool call. Never rejects: every failure is a result with a code. */
  async run(req: ToolRunRequest): Promise<ToolRunResult> {
    let code: ToolCode;
    let label: string;
    try {
      if ("path" in req.tool) {
        code = await this.#read(req.tool.path);
        label = req.tool.path;
        await this.#check(code, label, "folder");
      } else {
        if (toolHash(req.tool.source) !== req.tool.hash) {
          throw libosError(
            "EINVAL",
            `Cannot run tool ${req.tool.hash}: its source has another hash`,
          );
        }
        code = { hash: req.tool.hash, source: req.tool.source };
        label = req.tool.hash;
        // A JIT tool may come from a checkpoint or a bundle made elsewhere: checked again.
        await this.#check(code, label, "jit");
      }
    } catch (error) {
      return { ok: false, error: toErrorData(error), syscalls: 0, hash: null };
    }
    let permissions: WirePermissions;
    let lease;
    try {
      permissions = _wire(workerPermissions(req.grants ?? []));
      lease = await this.#pool.acquire(req.pid);
    } catch (error) {
      return { ok: false, error: toErrorData(error), syscalls: 0, hash: code.hash };
    }
    try {
      const serve = (name: SyscallName, args: SyscallArgs) => {
        const checked = checkSyscallArgs(name, args);
        return req.syscall(name, checked);
      };
      const result = await lease.host.run({
        tool: code,
        label,
        args: req.args ?? null,
        deadlineMs: req.deadlineMs,
        permissions,
        serve,
        ...(req.log ? { log: req.log } : {}),
      });
      return { ...result, hash: code.hash };
    } finally {
      lease.release();
    }
  }

  /** Checks a tool file statically, loads it in an isolate and returns what it says about itself. */
  async describe(path: string): Promise<ToolDescription> {
    const code = await this.#read(path);
    await this.#check(code, path, "folder");
    return await this.describeCode(code, path);
  }

  /**
   * The static check (`jit_static_check.ts`) of code about to reach a host; a
   * refusal throws EINVAL naming each problem's line and column. Verdicts are
   * kept by content hash and profile.
   */
  async #check(code: ToolCode, label: string, profile: StaticCheckProfile): Promise<void> {
    if (!this.#staticCheck) return;
    const key = `${profile}:${code.hash}`;
    let problems = this.#checked.get(key);
    if (problems === undefined) {
      const result = await staticCheckApart(code.source, { profile });
      problems = result.ok
        ? null
        : result.problems.map((p) => `line ${p.line}, column ${p.column}: ${p.message}`).join("; ");
      if (this.#checked.size >= _MAX_CHECKED) this.#checked.clear();
      this.#checked.set(key, problems);
    }
    if (problems !== null) {
      throw libosError("EINVAL", `Cannot load tool '${label}': ${problems}`, { file: label });
    }
  }

  /** Loads tool source in an isolate and returns what it says about itself; throws EINVAL. */
  async describeCode(code: ToolCode, label: string): Promise<ToolDescription> {
    const lease = await this.#pool.acquire(DESCRIBE_PID);
    try {
      const result = await lease.host.describe(code, { label, deadlineMs: this.#describeDeadline });
      if (!result.ok) throw libosError(result.error.code, result.error.message, { file: label });
      return { ...result.description, hash: code.hash };
    } finally {
      lease.release();
    }
  }

  /** Ends the hosts of a process that has ended. */
  async release(pid: string): Promise<void> {
    await this.#pool.releasePid(pid);
  }

  /** Kills every host (and the static checker's process) and waits until all are gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#pool[Symbol.asyncDispose]();
    await closeStaticChecker();
  }

  async #read(path: string): Promise<ToolCode> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw libosError("ENOENT", `Cannot read tool '${path}': it does not exist`, { file: path });
      }
      throw libosError("EINVAL", `Cannot read tool '${path}': ${error}`, { file: path }, error);
    }
    if (bytes.length > this.#limits.sourceBytes) {
      throw libosError(
        "ELIMIT",
        `Cannot load tool '${path}': ${bytes.length} bytes exceed the ${this.#limits.sourceBytes}-byte limit`,
        { file: path },
      );
    }
    let source: string;
    try {
      source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw libosError("EINVAL", `Cannot load tool '${path}': it is not UTF-8 text`, {
        file: path,
      });
    }
    return { source, hash: toolHash(source) };
  }
}

/** Converts computed permissions to the wire form, which allows no direct access at all. */
function _wire(
  permissions: Record<(typeof PERMISSION_KINDS)[number], false | string[]>,
): WirePermissions {
  for (const kind of PERMISSION_KINDS) {
    if (permissions[kind] !== false) {
      throw libosError(
        "EINTERNAL",
        `Cannot start a tool worker with direct '${kind}' access: the syscall proxy serves every kind of I/O`,
      );
    }
  }
  return permissions as unknown as WirePermissions;
}
