/**
 * The kernel's seam to the sandbox: a `ToolHost` offers tools that are not
 * kernel code (tools folders, JIT tools) and runs them in isolation. The
 * kernel gives each run a `syscall` callback that serves the tool's syscalls
 * through the same primitives as the primitive tools (capability, journal,
 * audit). `sandbox/` implements it; tests may fake it.
 *
 * @module
 */
import type { ErrorData } from "./errors.ts";
import type { Grant, Pid } from "./types.ts";

/** A tool the host offers. */
export interface HostedTool {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  inputSchema: Record<string, unknown>;
  /** The file it is loaded from. */
  path: string;
  /** The content hash of that file as last validated. */
  hash: string;
}

/** One run of a hosted tool. */
export interface HostedToolRun {
  pid: Pid;
  /** A tool file, or a JIT tool's source (its hash is checked again). */
  tool: { path: string; hash: string } | { source: string; hash: string };
  args: unknown;
  deadlineMs: number;
  /** The process's grants (the worker's permissions are computed from them). */
  grants: readonly Grant[];
  /** Serves one syscall through the kernel's primitives. */
  syscall(name: string, args: Record<string, unknown>): Promise<unknown>;
  /** Receives the tool's log lines. */
  log?(line: string): void;
  /**
   * Writes a kernel audit record about this run: a refused message, a killed
   * host, an attempt the isolate blocked, a limit.
   */
  audit(record: HostAuditRecord): void;
}

/** An audit record a tool host asks the kernel to write (`actor` is `kernel:sandbox`). */
export interface HostAuditRecord {
  /** `sandbox.refuse`, `sandbox.kill`, `sandbox.deny`, `sandbox.limit`, `tool.refuse`, … */
  action: string;
  /** `deny` for an attempt that was refused; absent when no capability decision was made. */
  decision?: "deny";
  /** What the attempt tried to reach (`isolate:read`, `tool:<file>`). */
  resource?: string;
  detail: Record<string, unknown>;
}

/** How a hosted run ended, and which content hash ran. */
export type HostedToolResult =
  | { ok: true; value: unknown; hash: string }
  | { ok: false; error: ErrorData; hash: string | null };

/** Tools that run outside the kernel's realm. */
export interface ToolHost {
  /** The tool with this name, if the host offers it. */
  tool(name: string): HostedTool | undefined;
  /** Every tool name it offers. */
  names(): string[];
  /** Runs a tool call. */
  run(run: HostedToolRun): Promise<HostedToolResult>;
  /**
   * Checks a JIT tool proposal (static check, type-check, its tests in an
   * isolate against a mock `sys`); absent when the host cannot.
   */
  propose?(pid: Pid, input: { source: string; tests?: unknown[] }): Promise<JitProposalOutcome>;
  /** The process has ended: whatever the host keeps for it can go. */
  release?(pid: Pid): Promise<void>;
  /**
   * The kernel's sink for audit records that belong to no run: a tool file
   * refused by a scan (pid null), a message from a process's host between
   * its runs, a JIT proposal's test run. The kernel attaches it once, when it
   * is created; records made before are kept for it.
   */
  attach?(sink: (pid: Pid | null, record: HostAuditRecord) => void): void;
}

/** The outcome of a JIT tool proposal. */
export type JitProposalOutcome =
  | {
    ok: true;
    /** `sha256:<hex>` of the source. */
    candidate: string;
    name: string;
    description: string;
    inputSchema: Record<string, unknown>;
    tests: { name: string; ok: boolean; output?: unknown; error?: ErrorData }[];
  }
  | { ok: false; candidate: string; stage: string; report: string };
