/**
 * The kernel's tool host on the sandbox: the tools of one or more folders
 * (built-ins first), described inside isolates, run on a warm pool of
 * isolate hosts. A tool file that changed is described again before its next
 * call, and the call runs the new content (its hash is journaled).
 *
 * @module
 */
import type {
  HostAuditRecord,
  HostedTool,
  HostedToolResult,
  HostedToolRun,
  JitProposalOutcome,
  Pid,
  ToolHost,
} from "../runtime/mod.ts";
import { type JitProposalInput, proposeTool } from "./jit.ts";
import { builtinToolsDir } from "../tools/mod.ts";
import type { SandboxAuditRecord } from "./isolate_host.ts";
import type { SandboxLimits } from "./limits.ts";
import { type BrokenTool, type ToolEntry, ToolFolder } from "./tool_folder.ts";
import { DESCRIBE_PID, IsolateToolRunner, toolHash } from "./tool_runner.ts";
import type { BubblewrapMode, Confinement } from "./host_launch.ts";

/** Options of {@linkcode SandboxTools.create}. */
export interface SandboxToolsOptions {
  /** User tool folders, after the built-in one. Default: none. */
  dirs?: readonly string[];
  /** Include the built-in tools folder (default true). */
  builtins?: boolean;
  limits?: Partial<SandboxLimits>;
  bubblewrap?: BubblewrapMode;
  /** Warm hosts (default 1). */
  warm?: number;
}

/** A {@linkcode ToolHost} on isolate hosts. */
export class SandboxTools implements ToolHost, AsyncDisposable {
  readonly runner: IsolateToolRunner;
  readonly folder: ToolFolder;
  /** Files that are not usable tools, as of the last scan. */
  broken: BrokenTool[] = [];
  readonly #stamps = new Map<string, { stamp: string; hash: string }>();
  readonly #sinks = new Map<Pid, (record: HostAuditRecord) => void>();
  /** The kernel's sink for records outside a run; until it is attached, they wait here. */
  #attached: ((pid: Pid | null, record: HostAuditRecord) => void) | null = null;
  readonly #waiting: [Pid | null, HostAuditRecord][] = [];

  private constructor(runner: IsolateToolRunner, folder: ToolFolder) {
    this.runner = runner;
    this.folder = folder;
  }

  /** Starts the runner and scans the folders (a broken file is reported, not fatal). */
  static async create(options: SandboxToolsOptions = {}): Promise<SandboxTools> {
    let self: SandboxTools | null = null;
    const runner = await IsolateToolRunner.create({
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.bubblewrap === undefined ? {} : { bubblewrap: options.bubblewrap }),
      warm: options.warm ?? 1,
      audit: (r: SandboxAuditRecord) => {
        if (self !== null) self.#route(r);
      },
    });
    const dirs = [
      ...(options.builtins === false ? [] : [builtinToolsDir]),
      ...(options.dirs ?? []),
    ];
    self = new SandboxTools(runner, new ToolFolder(runner, dirs));
    await self.#scan();
    return self;
  }

  /** Scans the folders; each file refused in this scan (new or changed) is audited once. */
  async #scan(): Promise<void> {
    const scan = await this.folder.scan();
    this.broken = scan.broken;
    const described = new Set(scan.described);
    for (const b of scan.broken) {
      if (!described.has(b.file)) continue;
      this.#route({
        action: "tool.refuse",
        pid: null,
        decision: "deny",
        resource: `tool:${b.file}`,
        detail: { reason: b.reason },
      });
    }
  }

  attach(sink: (pid: Pid | null, record: HostAuditRecord) => void): void {
    this.#attached = sink;
    for (const [pid, record] of this.#waiting.splice(0)) sink(pid, record);
  }

  /** What confines the tools, with the notice to print at start. */
  get confinement(): Confinement {
    return this.runner.confinement;
  }

  tool(name: string): HostedTool | undefined {
    const e = this.folder.get(name);
    return e === undefined ? undefined : _hosted(e);
  }

  names(): string[] {
    return this.folder.list().map((e) => e.name);
  }

  async run(run: HostedToolRun): Promise<HostedToolResult> {
    if ("source" in run.tool) {
      return await this.#run(run, { source: run.tool.source, hash: run.tool.hash });
    }
    const entry = await this.#current(run.tool.path);
    if (entry === null) {
      return {
        ok: false,
        error: {
          code: "EINVAL",
          message: `Cannot run tool '${run.tool.path}': the file changed and no longer loads (${
            this.broken.find((b) => "path" in run.tool && b.file === run.tool.path)?.reason ??
              "see the tool folder report"
          })`,
        },
        hash: null,
      };
    }
    return await this.#run(run, { path: entry.path, hash: entry.hash });
  }

  async #run(
    run: HostedToolRun,
    tool: { path: string; hash: string } | { source: string; hash: string },
  ): Promise<HostedToolResult> {
    this.#sinks.set(run.pid, run.audit);
    try {
      const result = await this.runner.run({
        pid: run.pid,
        tool,
        args: run.args,
        deadlineMs: run.deadlineMs,
        grants: run.grants,
        syscall: (name, args) => run.syscall(name, args),
        ...(run.log === undefined ? {} : { log: run.log }),
      });
      return result.ok
        ? { ok: true, value: result.value, hash: result.hash }
        : { ok: false, error: result.error, hash: result.hash };
    } finally {
      this.#sinks.delete(run.pid);
    }
  }

  async propose(
    pid: Pid,
    input: { source: string; tests?: unknown[] },
  ): Promise<JitProposalOutcome> {
    const r = await proposeTool(this.runner, input as JitProposalInput, {
      pid: `${_JIT_HOST}${pid}`,
    });
    if (!r.ok) return { ok: false, candidate: r.candidate, stage: r.stage, report: r.report };
    return {
      ok: true,
      candidate: r.candidate,
      name: r.name,
      description: r.description.description,
      inputSchema: r.description.inputSchema,
      tests: r.tests.map((t) => ({ ...t })),
    };
  }

  async release(pid: Pid): Promise<void> {
    await this.runner.release(pid);
    await this.runner.release(`${_JIT_HOST}${pid}`);
  }

  /** The entry for a file as it is now: re-described when its content changed. */
  async #current(path: string): Promise<ToolEntry | null> {
    const known = this.folder.list().find((e) => e.path === path);
    // A call reads the file again only when its size or mtime moved since the
    // hash was last taken; the run itself sends the source the runner reads.
    const st = await Deno.stat(path).catch(() => null);
    const stamp = st === null ? null : `${st.size}:${st.mtime?.getTime() ?? 0}`;
    const seen = this.#stamps.get(path);
    if (
      known !== undefined && stamp !== null && seen?.stamp === stamp && seen.hash === known.hash
    ) {
      return known;
    }
    let hash: string | null = null;
    try {
      hash = toolHash(await Deno.readTextFile(path));
    } catch {
      hash = null;
    }
    if (stamp !== null && hash !== null) this.#stamps.set(path, { stamp, hash });
    if (known !== undefined && known.hash === hash) return known;
    await this.#scan();
    return this.folder.list().find((e) => e.path === path) ?? null;
  }

  /**
   * Sends a sandbox record to the run it belongs to, else to the kernel's
   * sink under its process (a JIT proposal's `@jit:<pid>` host is that
   * process's; the `@describe` host belongs to none).
   */
  #route(r: SandboxAuditRecord): void {
    const record: HostAuditRecord = {
      action: r.action,
      ...(r.decision === undefined ? {} : { decision: r.decision }),
      ...(r.resource === undefined ? {} : { resource: r.resource }),
      detail: { ...r.detail },
    };
    const sink = r.pid === null ? undefined : this.#sinks.get(r.pid);
    if (sink !== undefined) return sink(record);
    const pid = r.pid === null || r.pid === DESCRIBE_PID
      ? null
      : r.pid.startsWith(_JIT_HOST)
      ? r.pid.slice(_JIT_HOST.length)
      : r.pid;
    if (this.#attached !== null) this.#attached(pid, record);
    else if (this.#waiting.length < _MAX_WAITING) this.#waiting.push([pid, record]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.runner[Symbol.asyncDispose]();
  }
}

/** The host pid prefix of a process's JIT proposal runs. */
const _JIT_HOST = "@jit:";
/** Records kept for the kernel's sink before it is attached. */
const _MAX_WAITING = 1000;

function _hosted(e: ToolEntry): HostedTool {
  return {
    name: e.name,
    description: e.description.description,
    inputSchema: e.description.inputSchema,
    path: e.path,
    hash: e.hash,
  };
}
