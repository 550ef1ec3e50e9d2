/**
 * The syscall protocol between the kernel, an isolate host and the tool
 * workers inside it (DESIGN §4): discriminated unions of plain-data messages,
 * the table of syscalls a tool may make, and validators that refuse forged or
 * malformed messages before anything acts on them.
 *
 * ```
 * worker ──syscall{id,seq,name,args}──▶ host ──syscall{pid,id,seq,name,args}──▶ kernel
 * worker ◀──────result{id,seq,ok,…}──── host ◀───────result{id,seq,ok,…}─────── kernel
 * ```
 *
 * Host ↔ kernel messages travel as length-prefixed frames on the host's stdio
 * (see `frame.ts`); worker ↔ host messages travel by `postMessage`. Errors cross
 * every hop as `{code, message}` data, never as classes.
 *
 * This file is loaded by the isolate host too, so it imports nothing at run time.
 *
 * @module
 */
import type { ErrorCode } from "../runtime/mod.ts";

/** The protocol version; a host that speaks another one is refused. */
export const PROTOCOL_VERSION = 1;

/** An error as it crosses the protocol. */
export interface WireError {
  code: string;
  message: string;
}

/** The outcome of a call or a syscall. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: WireError };

/** A tool's code as the kernel hands it to a host: the source and its content hash. */
export interface ToolCode {
  /** `sha256:<hex>` of the UTF-8 source. */
  hash: string;
  source: string;
}

/** What a tool says about itself (learned inside an isolate, never in the kernel's realm). */
export interface ToolSelfDescription {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
}

/**
 * The Deno permissions a tool worker holds directly, as the host passes them to
 * `new Worker(…, {deno: {permissions}})` (see `worker_permissions.ts`).
 */
export interface WirePermissions {
  env: false;
  ffi: false;
  import: false;
  net: false;
  read: false;
  run: false;
  sys: false;
  write: false;
}

/**
 * The syscalls a tool may make, by dotted name (the `ToolSys` methods of
 * runtime/tool_sdk.ts), with the names of their arguments; `?` marks an
 * optional one. A syscall's `args` is an object with exactly these keys.
 */
export const SYSCALLS = {
  "fs.readText": ["path"],
  "fs.readBytes": ["path"],
  "fs.write": ["path", "data"],
  "fs.list": ["path"],
  "fs.stat": ["path"],
  "fs.delete": ["path"],
  "fs.mkdir": ["path"],
  "obj.create": ["name", "type", "payload", "namespace?"],
  "obj.read": ["ref"],
  "obj.write": ["ref", "payload"],
  "obj.list": ["namespace?"],
  "obj.link": ["from", "rel", "to"],
  "obj.delete": ["ref"],
  "obj.fromFile": ["path", "name", "type?"],
  "obj.toFile": ["ref", "path"],
  "human.ask": ["question"],
  "human.notify": ["message"],
  "human.requestPermission": ["resource", "rights", "reason"],
  "proc.spawn": ["goal", "image?", "capabilities?"],
  "proc.fork": ["goal", "capabilities?", "objects?"],
  "proc.wait": ["pid"],
  "proc.signal": ["pid", "signal"],
  "proc.exit": ["result"],
  "proc.cwd": [],
  "proc.chdir": ["path"],
  "net.fetch": ["url", "method?", "headers?", "body?"],
  "shell.run": ["argv", "timeoutMs?"],
  "clock.now": [],
  "clock.sleep": ["ms"],
  "mbox.send": ["to", "type?", "body"],
  "mbox.receive": ["from?", "timeoutMs?"],
} as const satisfies Record<string, readonly string[]>;

/** A syscall name: `"fs.readText"`, `"obj.create"`, `"clock.now"`, … */
export type SyscallName = keyof typeof SYSCALLS;

/**
 * Error codes that end a tool call at once instead of reaching the tool (which
 * could swallow them): the process must wait, its replay diverged, or it was
 * cancelled. The call runs again from its start when the process resumes.
 */
export const CALL_ENDING_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "EWAITING",
  "ENONDET",
  "ECANCELED",
]);

// ------------------------------------------------------------- kernel ⇄ host

/** Kernel → host. */
export type KernelMessage =
  /** Binds the host to the one process it serves for the rest of its life. */
  | { type: "bind"; pid: string }
  /** Runs a tool call in the tool's worker. */
  | { type: "run"; id: number; tool: ToolCode; args: unknown; permissions: WirePermissions }
  /** Loads a tool and answers what it says about itself. */
  | { type: "describe"; id: number; tool: ToolCode }
  /** The answer to syscall `seq` of call `id`. */
  | { type: "result"; id: number; seq: number; ok: true; value: unknown }
  | { type: "result"; id: number; seq: number; ok: false; error: WireError }
  /** The kernel ended call `id`: the host drops its worker. */
  | { type: "cancel"; id: number };

/** Host → kernel. */
export type HostMessage =
  /** The host is up and speaks this protocol version. */
  | { type: "ready"; version: number }
  /** Syscall `seq` (from 1, in order) of call `id`. */
  | { type: "syscall"; pid: string; id: number; seq: number; name: SyscallName; args: SyscallArgs }
  /** Call `id` ended. */
  | { type: "done"; pid: string; id: number; syscalls: number; ok: true; value: unknown }
  | { type: "done"; pid: string; id: number; syscalls: number; ok: false; error: WireError }
  /** What the tool of describe call `id` says about itself. */
  | { type: "described"; pid: string; id: number; ok: true; description: ToolSelfDescription }
  | { type: "described"; pid: string; id: number; ok: false; error: WireError }
  /** A line the tool logged during call `id`. */
  | { type: "log"; pid: string; id: number; line: string }
  /** The isolate blocked an attempt of call `id` (a permission, a removed global, code generation). */
  | { type: "denied"; pid: string; id: number; kind: DenialKind; api: string; message: string }
  /** The host refused something (a malformed worker message, an oversized frame). */
  | { type: "fault"; pid: string | null; id: number | null; error: WireError }
  /** The host's resident memory in bytes, sent while calls run (0 where it cannot tell). */
  | { type: "memory"; rss: number };

/**
 * What an attempt the isolate blocked tried to reach: a Deno permission kind
 * (`read`, `net`, …), code generation (`code`: eval, the Function
 * constructors, WebAssembly), a global the sandbox took away (`global`:
 * workers, channels, storage, stdio, Deno's internals), or a syscall made
 * after its call had ended (`syscall`).
 */
export const DENIAL_KINDS = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "ffi",
  "sys",
  "import",
  "code",
  "global",
  "syscall",
] as const;

/** One of {@linkcode DENIAL_KINDS}. */
export type DenialKind = (typeof DENIAL_KINDS)[number];

/** Longest API name in a `denied` message. */
export const MAX_API_NAME = 128;

/** A syscall's arguments: an object keyed by the names in {@linkcode SYSCALLS}. */
export type SyscallArgs = Record<string, unknown>;

// ------------------------------------------------------------- host ⇄ worker

/** Host → tool worker. */
export type HostToWorker =
  | { type: "load"; tool: ToolCode }
  /** Are you still listening? (sent to a worker whose calls have all ended) */
  | { type: "ping"; n: number }
  | { type: "run"; id: number; args: unknown }
  | { type: "describe"; id: number }
  | { type: "result"; id: number; seq: number; ok: true; value: unknown }
  | { type: "result"; id: number; seq: number; ok: false; error: WireError };

/** Tool worker → host: the host → kernel messages of one call, without the pid. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "pong"; n: number }
  | { type: "syscall"; id: number; seq: number; name: SyscallName; args: SyscallArgs }
  | { type: "done"; id: number; syscalls: number; ok: true; value: unknown }
  | { type: "done"; id: number; syscalls: number; ok: false; error: WireError }
  | { type: "described"; id: number; ok: true; description: ToolSelfDescription }
  | { type: "described"; id: number; ok: false; error: WireError }
  | { type: "log"; id: number; line: string }
  | { type: "denied"; id: number; kind: DenialKind; api: string; message: string };

// ---------------------------------------------------------------- validation

/** A validator's verdict: the typed message, or why it was refused. */
export type Parsed<T> = { ok: true; message: T } | { ok: false; reason: string };

/** Deepest nesting a payload may have. */
export const MAX_DEPTH = 64;
/** Longest log line, in UTF-16 units; longer lines are cut. */
export const MAX_LOG_LINE = 4096;
/** Longest error message that crosses the protocol; longer ones are cut. */
export const MAX_ERROR_MESSAGE = 4096;

const _ERROR_CODE = /^E[A-Z]{2,15}$/;
const _PID = /^[@A-Za-z0-9_.:-]{1,64}$/;
const _HASH = /^sha256:[0-9a-f]{64}$/;

class _Refusal {
  constructor(readonly reason: string) {}
}

function _refuse(reason: string): never {
  throw new _Refusal(reason);
}

function _run<T>(body: () => T): Parsed<T> {
  try {
    return { ok: true, message: body() };
  } catch (error) {
    if (error instanceof _Refusal) return { ok: false, reason: error.reason };
    throw error;
  }
}

/** A plain object (not an array, not a class instance) or a refusal. */
function _record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    _refuse(`${what} is not an object`);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) _refuse(`${what} is not a plain object`);
  if (Object.hasOwn(value, "__proto__")) _refuse(`${what} has a '__proto__' key`);
  return value as Record<string, unknown>;
}

/** Refuses keys outside `allowed` and missing required ones (`?` marks optional). */
function _keys(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key) && !allowed.includes(`${key}?`)) {
      _refuse(`${what} has an unexpected field '${key}'`);
    }
  }
  for (const key of allowed) {
    if (!key.endsWith("?") && !Object.hasOwn(o, key)) _refuse(`${what} lacks field '${key}'`);
  }
}

function _int(o: Record<string, unknown>, key: string, what: string, min = 0): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    _refuse(`${what}.${key} is not an integer ≥ ${min}`);
  }
  return v;
}

function _string(o: Record<string, unknown>, key: string, what: string, max: number): string {
  const v = o[key];
  if (typeof v !== "string") _refuse(`${what}.${key} is not a string`);
  if (v.length > max) _refuse(`${what}.${key} is longer than ${max}`);
  return v;
}

function _pid(o: Record<string, unknown>, what: string): string {
  const v = _string(o, "pid", what, 64);
  if (!_PID.test(v)) _refuse(`${what}.pid is not a pid`);
  return v;
}

function _bool(o: Record<string, unknown>, key: string, what: string): boolean {
  const v = o[key];
  if (typeof v !== "boolean") _refuse(`${what}.${key} is not a boolean`);
  return v;
}

/**
 * Walks a payload: only JSON values and `Uint8Array`s, no own `__proto__`
 * key, at most {@linkcode MAX_DEPTH} deep.
 */
export function checkPayload(value: unknown, what: string): void {
  _payload(value, what, 0);
}

function _payload(value: unknown, what: string, depth: number): void {
  if (value === null) return;
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) _refuse(`${what} holds a non-finite number`);
      return;
    case "object":
      break;
    default:
      _refuse(`${what} holds a ${typeof value}`);
  }
  if (depth >= MAX_DEPTH) _refuse(`${what} is nested deeper than ${MAX_DEPTH}`);
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const item of value) _payload(item, what, depth + 1);
    return;
  }
  const o = _record(value, what);
  for (const key in o) _payload(o[key], what, depth + 1);
}

function _error(o: Record<string, unknown>, what: string): WireError {
  const e = _record(o["error"], `${what}.error`);
  _keys(e, ["code", "message"], `${what}.error`);
  const code = _string(e, "code", `${what}.error`, 16);
  if (!_ERROR_CODE.test(code)) _refuse(`${what}.error.code is not an error code`);
  return { code, message: _string(e, "message", `${what}.error`, MAX_ERROR_MESSAGE) };
}

function _syscall(
  o: Record<string, unknown>,
  what: string,
): { name: SyscallName; args: SyscallArgs } {
  const name = _string(o, "name", what, 64);
  if (!Object.hasOwn(SYSCALLS, name)) _refuse(`${what}.name '${name}' is not a syscall`);
  const args = _record(o["args"], `${what}.args`);
  _keys(args, SYSCALLS[name as SyscallName], `${what}.args`);
  checkPayload(args, `${what}.args`);
  return { name: name as SyscallName, args };
}

function _denial(
  o: Record<string, unknown>,
  what: string,
): { kind: DenialKind; api: string; message: string } {
  const kind = _string(o, "kind", what, 16);
  if (!(DENIAL_KINDS as readonly string[]).includes(kind)) {
    _refuse(`${what}.kind '${kind}' is not one of ${DENIAL_KINDS.join(", ")}`);
  }
  return {
    kind: kind as DenialKind,
    api: _string(o, "api", what, MAX_API_NAME),
    message: _string(o, "message", what, MAX_ERROR_MESSAGE),
  };
}

function _outcomeFields(o: Record<string, unknown>, what: string, valueKey: string): string[] {
  return _bool(o, "ok", what) ? [valueKey] : ["error"];
}

function _selfDescription(value: unknown, what: string): ToolSelfDescription {
  const d = _record(value, what);
  _keys(d, ["name", "description", "inputSchema", "outputSchema"], what);
  const name = _string(d, "name", what, 64);
  const description = _string(d, "description", what, 10_000);
  const inputSchema = _record(d["inputSchema"], `${what}.inputSchema`);
  const outputSchema = _record(d["outputSchema"], `${what}.outputSchema`);
  checkPayload(inputSchema, `${what}.inputSchema`);
  checkPayload(outputSchema, `${what}.outputSchema`);
  return { name, description, inputSchema, outputSchema };
}

/** Validates a host → kernel message; a refusal names what is wrong. */
export function parseHostMessage(raw: unknown): Parsed<HostMessage> {
  return _run(() => _hostMessage(raw));
}

function _hostMessage(raw: unknown): HostMessage {
  const o = _record(raw, "message");
  const type = o["type"];
  const what = `'${String(type)}' message`;
  switch (type) {
    case "ready":
      _keys(o, ["type", "version"], what);
      return { type, version: _int(o, "version", what) };
    case "syscall": {
      _keys(o, ["type", "pid", "id", "seq", "name", "args"], what);
      const { name, args } = _syscall(o, what);
      return {
        type,
        pid: _pid(o, what),
        id: _int(o, "id", what, 1),
        seq: _int(o, "seq", what, 1),
        name,
        args,
      };
    }
    case "done": {
      _keys(o, ["type", "pid", "id", "syscalls", "ok", ..._outcomeFields(o, what, "value")], what);
      const base = {
        type,
        pid: _pid(o, what),
        id: _int(o, "id", what, 1),
        syscalls: _int(o, "syscalls", what),
      };
      if (o["ok"] === true) {
        checkPayload(o["value"], `${what}.value`);
        return { ...base, ok: true, value: o["value"] };
      }
      return { ...base, ok: false, error: _error(o, what) };
    }
    case "described": {
      _keys(o, ["type", "pid", "id", "ok", ..._outcomeFields(o, what, "description")], what);
      const base = { type, pid: _pid(o, what), id: _int(o, "id", what, 1) };
      if (o["ok"] === true) {
        return {
          ...base,
          ok: true,
          description: _selfDescription(o["description"], `${what}.description`),
        };
      }
      return { ...base, ok: false, error: _error(o, what) };
    }
    case "log":
      _keys(o, ["type", "pid", "id", "line"], what);
      return {
        type,
        pid: _pid(o, what),
        id: _int(o, "id", what, 1),
        line: _string(o, "line", what, MAX_LOG_LINE),
      };
    case "denied":
      _keys(o, ["type", "pid", "id", "kind", "api", "message"], what);
      return { type, pid: _pid(o, what), id: _int(o, "id", what, 1), ..._denial(o, what) };
    case "memory":
      _keys(o, ["type", "rss"], what);
      return { type, rss: _int(o, "rss", what) };
    case "fault": {
      _keys(o, ["type", "pid", "id", "error"], what);
      const pid = o["pid"] === null ? null : _pid(o, what);
      const id = o["id"] === null ? null : _int(o, "id", what, 1);
      return { type, pid, id, error: _error(o, what) };
    }
    default:
      return _refuse(`message type ${JSON.stringify(type)} is unknown`);
  }
}

/** Validates a kernel → host message (the host trusts the kernel, but not blindly). */
export function parseKernelMessage(raw: unknown): Parsed<KernelMessage> {
  return _run(() => _kernelMessage(raw));
}

function _toolCode(value: unknown, what: string): ToolCode {
  const t = _record(value, what);
  _keys(t, ["hash", "source"], what);
  const hash = _string(t, "hash", what, 80);
  if (!_HASH.test(hash)) _refuse(`${what}.hash is not a sha256 hash`);
  return { hash, source: _string(t, "source", what, 4 << 20) };
}

function _permissions(value: unknown, what: string): WirePermissions {
  const p = _record(value, what);
  const kinds = ["env", "ffi", "import", "net", "read", "run", "sys", "write"] as const;
  _keys(p, kinds, what);
  for (const kind of kinds) {
    if (p[kind] !== false) _refuse(`${what}.${kind} is not false`);
  }
  return p as unknown as WirePermissions;
}

function _kernelMessage(raw: unknown): KernelMessage {
  const o = _record(raw, "message");
  const type = o["type"];
  const what = `'${String(type)}' message`;
  switch (type) {
    case "bind":
      _keys(o, ["type", "pid"], what);
      return { type, pid: _pid(o, what) };
    case "run":
      _keys(o, ["type", "id", "tool", "args", "permissions"], what);
      checkPayload(o["args"], `${what}.args`);
      return {
        type,
        id: _int(o, "id", what, 1),
        tool: _toolCode(o["tool"], `${what}.tool`),
        args: o["args"],
        permissions: _permissions(o["permissions"], `${what}.permissions`),
      };
    case "describe":
      _keys(o, ["type", "id", "tool"], what);
      return { type, id: _int(o, "id", what, 1), tool: _toolCode(o["tool"], `${what}.tool`) };
    case "result": {
      _keys(o, ["type", "id", "seq", "ok", ..._outcomeFields(o, what, "value")], what);
      const base = { type, id: _int(o, "id", what, 1), seq: _int(o, "seq", what, 1) };
      if (o["ok"] === true) return { ...base, ok: true, value: o["value"] };
      return { ...base, ok: false, error: _error(o, what) };
    }
    case "cancel":
      _keys(o, ["type", "id"], what);
      return { type, id: _int(o, "id", what, 1) };
    default:
      return _refuse(`message type ${JSON.stringify(type)} is unknown`);
  }
}

/** Validates a tool worker → host message: the tool's code may have forged it. */
export function parseWorkerMessage(raw: unknown): Parsed<WorkerMessage> {
  return _run(() => _workerMessage(raw));
}

function _workerMessage(raw: unknown): WorkerMessage {
  const o = _record(raw, "worker message");
  const type = o["type"];
  const what = `worker '${String(type)}' message`;
  switch (type) {
    case "ready":
      _keys(o, ["type"], what);
      return { type };
    case "pong":
      _keys(o, ["type", "n"], what);
      return { type, n: _int(o, "n", what, 1) };
    case "syscall": {
      _keys(o, ["type", "id", "seq", "name", "args"], what);
      const { name, args } = _syscall(o, what);
      return { type, id: _int(o, "id", what, 1), seq: _int(o, "seq", what, 1), name, args };
    }
    case "done": {
      _keys(o, ["type", "id", "syscalls", "ok", ..._outcomeFields(o, what, "value")], what);
      const base = { type, id: _int(o, "id", what, 1), syscalls: _int(o, "syscalls", what) };
      if (o["ok"] === true) {
        checkPayload(o["value"], `${what}.value`);
        return { ...base, ok: true, value: o["value"] };
      }
      return { ...base, ok: false, error: _error(o, what) };
    }
    case "described": {
      _keys(o, ["type", "id", "ok", ..._outcomeFields(o, what, "description")], what);
      const base = { type, id: _int(o, "id", what, 1) };
      if (o["ok"] === true) {
        return {
          ...base,
          ok: true,
          description: _selfDescription(o["description"], `${what}.description`),
        };
      }
      return { ...base, ok: false, error: _error(o, what) };
    }
    case "log":
      _keys(o, ["type", "id", "line"], what);
      return { type, id: _int(o, "id", what, 1), line: _string(o, "line", what, MAX_LOG_LINE) };
    case "denied":
      _keys(o, ["type", "id", "kind", "api", "message"], what);
      return { type, id: _int(o, "id", what, 1), ..._denial(o, what) };
    default:
      return _refuse(`message type ${JSON.stringify(type)} is unknown`);
  }
}

/** Cuts an error message to {@linkcode MAX_ERROR_MESSAGE}. */
export function clipMessage(text: string): string {
  return text.length <= MAX_ERROR_MESSAGE ? text : `${text.slice(0, MAX_ERROR_MESSAGE - 1)}…`;
}
