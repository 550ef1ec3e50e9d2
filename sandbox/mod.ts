/**
 * The sandbox of Agent libOS (DESIGN §4): tools run in permission-less
 * workers inside isolate hosts (`deno run` subprocesses with no `--allow-*`
 * flag, under bubblewrap where it works), reach the world only through the
 * syscall proxy, and are killed by the kernel when they pass a deadline, a
 * memory limit or a message limit.
 *
 * @example
 * ```ts
 * import { IsolateToolRunner, ToolFolder } from "./mod.ts";
 * import { builtinToolsDir } from "../tools/mod.ts";
 *
 * await using runner = await IsolateToolRunner.create();
 * console.log(runner.confinement.notice); // the kernel prints this at start
 * const folder = new ToolFolder(runner, [builtinToolsDir]);
 * const { broken } = await folder.scan(); // each tool described inside an isolate
 * console.log(broken); // []
 * const tool = folder.get("count_lines")!;
 * const result = await runner.run({
 *   pid: "p_1",
 *   tool: { path: tool.path, hash: tool.hash },
 *   args: { path: "notes.txt" },
 *   deadlineMs: 5000,
 *   // The kernel serves each syscall through its primitives; here, a stand-in.
 *   syscall: (name, args) => Promise.resolve(name === "fs.readText" ? "one\ntwo\n" : args),
 * });
 * console.log(result); // { ok: true, value: { lines: 2 }, syscalls: 1, hash: "sha256:…" }
 * ```
 *
 * @module
 */
export {
  IsolateToolRunner,
  type IsolateToolRunnerOptions,
  type ToolDescription,
  toolHash,
  type ToolRunner,
  type ToolRunRequest,
  type ToolRunResult,
} from "./tool_runner.ts";
export {
  type BrokenTool,
  type ToolDescriber,
  type ToolEntry,
  ToolFolder,
  type ToolFolderScan,
} from "./tool_folder.ts";
export { DEFAULT_LIMITS, resolveLimits, type SandboxLimits } from "./limits.ts";
export type { SandboxAuditRecord } from "./isolate_host.ts";
export type { BubblewrapMode, Confinement } from "./host_launch.ts";
export type { HostPoolStats } from "./host_pool.ts";
export { CALL_ENDING_CODES, type SyscallArgs, type SyscallName, SYSCALLS } from "./protocol.ts";
export { checkSyscallArgs, SYSCALL_ARGS, type SyscallArgsOf } from "./syscall_args.ts";
export {
  DIRECT_ACCESS,
  PERMISSION_KINDS,
  type PermissionKind,
  type WorkerPermissions,
  workerPermissions,
} from "./worker_permissions.ts";
export { SandboxTools, type SandboxToolsOptions } from "./sandbox_tools.ts";
export {
  JIT_MAX_TESTS,
  JIT_MOCK_ERROR_CODES,
  JIT_REPORT_BYTES,
  type JitProposal,
  type JitProposalInput,
  JitProposalInputSchema,
  type JitStage,
  type JitTest,
  type JitTestResult,
  JitTestSchema,
  type JitToolRunner,
  proposeTool,
  type ProposeToolOptions,
} from "./jit.ts";
export {
  JIT_FORBIDDEN_NAMES,
  JIT_IMPORT_ALLOWLIST,
  staticCheck,
  type StaticCheckProfile,
  type StaticCheckResult,
  type StaticProblem,
} from "./jit_static_check.ts";
export { JIT_TOOL_FILE, typecheck, type TypecheckResult } from "./jit_typecheck.ts";
