/**
 * The one name table of the primitives: for every syscall, the model-facing
 * tool that makes it (if any), the audit action of its decisions, and
 * whether a call found in flight after a crash may be redone (when its
 * primitive cannot settle it from evidence). The engine, the primitive tools
 * and the syscall table all take their names from here.
 *
 * @module
 */

/** One primitive's names and recovery rule. */
export interface PrimitiveNames {
  /** The model-facing tool that makes this syscall, or null (a sandbox-only syscall). */
  readonly tool: string | null;
  /** The audit action of its decisions. */
  readonly audit: string;
  /** Redone when found in flight after a crash (else EUNKNOWN), unless settled from evidence. */
  readonly idempotent: boolean;
}

const _p = (tool: string | null, audit: string, idempotent: boolean): PrimitiveNames => ({
  tool,
  audit,
  idempotent,
});

/** Every primitive, by syscall name. */
export const PRIMITIVES = {
  "fs.readText": _p("read_text_file", "fs.read", true),
  "fs.readBytes": _p(null, "fs.read", true),
  "fs.write": _p("write_text_file", "fs.write", true),
  "fs.list": _p("list_directory", "fs.list", true),
  "fs.stat": _p(null, "fs.stat", true),
  "fs.delete": _p("delete_file", "fs.delete", true),
  "fs.mkdir": _p("make_directory", "fs.mkdir", true),
  "obj.create": _p("create_object", "obj.create", false),
  "obj.read": _p("read_object", "obj.read", true),
  "obj.write": _p("write_object", "obj.write", false),
  "obj.list": _p("list_objects", "obj.list", true),
  "obj.link": _p(null, "obj.link", false),
  "obj.delete": _p(null, "obj.delete", false),
  "obj.fromFile": _p("file_to_object", "obj.fromFile", false),
  "obj.toFile": _p("object_to_file", "obj.toFile", true),
  "human.ask": _p("ask_human", "human.ask", true),
  "human.notify": _p("notify_human", "human.notify", true),
  "human.requestPermission": _p("request_permission", "human.requestPermission", true),
  "proc.spawn": _p("spawn_process", "proc.spawn", false),
  "proc.fork": _p("fork_process", "proc.fork", false),
  "proc.wait": _p("wait_process", "proc.wait", true),
  "proc.signal": _p("signal_process", "proc.signal", false),
  "proc.exit": _p("exit", "proc.exit", true),
  "proc.cwd": _p("get_cwd", "proc.cwd", true),
  "proc.chdir": _p("set_cwd", "proc.chdir", true),
  // A GET or HEAD is redone; any other method is not (the call decides).
  "net.fetch": _p("fetch_url", "net.fetch", false),
  "shell.run": _p("run_shell", "shell.run", false),
  "tool.propose": _p("propose_tool", "tool.propose", true),
  "tool.register": _p("register_tool", "tool.register", true),
  "checkpoint.create": _p("checkpoint", "checkpoint.create", false),
  "clock.now": _p("now", "clock.now", true),
  "clock.sleep": _p("sleep", "clock.sleep", true),
  // A tool's model-facing name is `<server>.<tool>`; redone only when the
  // operator trusts its annotations and they say so (the call decides).
  "mcp.call": _p(null, "mcp.call", false),
  "mcp.readResource": _p("mcp_read_resource", "mcp.read", true),
  // A send's message commits with its result; a receive's claim is found again by its key.
  "mbox.send": _p("send_message", "mbox.send", true),
  "mbox.receive": _p("receive_message", "mbox.receive", true),
} as const satisfies Record<string, PrimitiveNames>;

/** A syscall name. */
export type SysName = keyof typeof PRIMITIVES;

/** The syscall a primitive tool makes, by tool name. */
export const SYSCALL_OF_TOOL: ReadonlyMap<string, SysName> = new Map(
  (Object.entries(PRIMITIVES) as [SysName, PrimitiveNames][])
    .filter(([, p]) => p.tool !== null)
    .map(([sys, p]) => [p.tool as string, sys]),
);
