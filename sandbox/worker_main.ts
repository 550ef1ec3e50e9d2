/**
 * The program of one tool worker inside an isolate host. The host starts it
 * (as a `data:` module, so that it needs no read permission) with
 * `permissions: "none"`; it takes away the globals that no permission governs
 * (`BroadcastChannel`, `caches`, nested `Worker`s, …), waits for `load`,
 * imports the tool's source as a `data:` module, and then serves `run` and
 * `describe` calls.
 *
 * A tool reaches the world only through `sys`: a plain object of functions,
 * one per syscall, each posting `{type: "syscall", id, seq, name, args}` to the
 * host and awaiting the matching `result`. The tool's input and output are
 * validated against its zod schemas here, inside the isolate.
 *
 * This module imports nothing at run time but the tool SDK, which the host's
 * import map resolves to a `data:` module too.
 *
 * @module
 */
import { type Tool, type ToolSys, z } from "libos/tool";
import type {
  DenialKind,
  HostToWorker,
  SyscallArgs,
  SyscallName,
  ToolCode,
  WireError,
  WorkerMessage,
} from "./protocol.ts";

interface _Scope {
  postMessage(message: WorkerMessage, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent<HostToWorker>) => void): void;
}

const _scope = globalThis as unknown as _Scope;
const _postRaw = _scope.postMessage.bind(_scope);

/** Posts to the host; an error message is cut to what the protocol accepts. */
function _post(message: WorkerMessage): void {
  if ("error" in message && message.ok === false) {
    message.error.message = _clip(message.error.message, _MAX_MESSAGE);
  }
  _postRaw(message);
}
// The protocol's MAX_LOG_LINE, MAX_ERROR_MESSAGE and MAX_API_NAME (this module imports only types).
const _MAX_LOG_LINE = 4096;
const _MAX_MESSAGE = 4096;
const _MAX_API = 128;

/**
 * Globals that no permission governs (they reach other workers, storage, the
 * host's stdio or compile code): each becomes an accessor that reports the
 * attempt and yields `undefined`.
 */
const _UNGOVERNED: Readonly<Record<string, DenialKind>> = {
  // Compiles code that no string-codegen flag governs.
  WebAssembly: "code",
  // Node's process object reaches the host's stdio (the frame pipe).
  process: "global",
  BroadcastChannel: "global",
  caches: "global",
  Worker: "global",
  SharedWorker: "global",
  localStorage: "global",
  sessionStorage: "global",
  indexedDB: "global",
  WebSocket: "net",
  WebSocketStream: "net",
  EventSource: "net",
};

/**
 * Facts about the host that a tool may not learn: the host's and the
 * kernel's process ids, Deno's path and the working directory on the host,
 * the machine's name, load, memory, interfaces, users, CPUs and platform.
 * No permission governs some of them in a worker (`Deno.pid`, `Deno.ppid`,
 * `Deno.execPath()`, `Deno.cwd()`, `navigator.hardwareConcurrency`), so none
 * is left to the permission set: a function throws `NotCapable` and a value
 * reads as `undefined`, and each attempt is reported as one denial (`sys`).
 * The runtime's version stays (`Deno.version`, `navigator.userAgent`, which
 * zod reads): it is the sandbox's, not the host's.
 */
const _HOST_FACT_FUNCTIONS = [
  "execPath",
  "cwd",
  "hostname",
  "osRelease",
  "osUptime",
  "loadavg",
  "networkInterfaces",
  "systemMemoryInfo",
  "uid",
  "gid",
] as const;
const _HOST_FACT_VALUES = ["pid", "ppid", "mainModule", "build"] as const;
const _NAVIGATOR_FACTS = ["hardwareConcurrency", "platform", "userAgentData"] as const;

/** The permission kinds a `NotCapable` names (`Requires read access …`); DENIAL_KINDS begins so. */
const _PERMISSION_KINDS = new Set<DenialKind>(
  ["read", "write", "net", "env", "run", "ffi", "sys", "import"],
);

/** Errors already reported as a denial (an error reported once, however far it travels). */
const _reported = new WeakSet<object>();
/** Denials made while no call was open (a timer left behind): reported with the next call. */
const _orphans: { kind: DenialKind; api: string; message: string }[] = [];
const _MAX_ORPHANS = 64;
const _NotCapable = Deno.errors.NotCapable;
const _EvalError = EvalError;

/**
 * Reports an attempt the isolate blocked: one `denied` message, for the open
 * call (or, when none is open, for the next call of this worker).
 */
function _deny(api: string, kind: DenialKind, message: string): void {
  const denial = { kind, api: _clip(api, _MAX_API), message: _clip(message, _MAX_MESSAGE) };
  const call = _openCall();
  if (call !== undefined) _post({ type: "denied", id: call.id, ...denial });
  else if (_orphans.length < _MAX_ORPHANS) _orphans.push(denial);
}

/** The denial kind of an error Deno's permission checks throw, or null for any other error. */
function _permissionKind(error: unknown): DenialKind | null {
  if (!(error instanceof _NotCapable)) return null;
  const kind = /Requires (\w+) access/.exec(error.message)?.[1] as DenialKind | undefined;
  return kind !== undefined && _PERMISSION_KINDS.has(kind) ? kind : "sys";
}

/**
 * APIs that need a permission no worker holds, but may fail before Deno
 * checks it: under bubblewrap `Deno.resolveDns` cannot read the resolver's
 * configuration and fails with an I/O error first. Any failure of one is a
 * blocked attempt of this kind.
 */
const _GATED: Readonly<Record<string, DenialKind>> = { "Deno.resolveDns": "net" };

/** Reports `error` once if a permission check threw it; returns it to be thrown on. */
function _noted(api: string, error: unknown): unknown {
  const kind = _permissionKind(error) ??
    (Object.hasOwn(_GATED, api) && error instanceof Error ? _GATED[api]! : null);
  if (kind !== null && !_reported.has(error as object)) {
    _reported.add(error as object);
    _deny(api, kind, (error as Error).message);
  }
  return error;
}

/** An async iterator whose failures are noted (`Deno.readDir` fails at its first step). */
function _notedIterator<T>(api: string, it: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  const wrap = (p: Promise<IteratorResult<T>>) =>
    p.catch((e: unknown) => {
      throw _noted(api, e);
    });
  return {
    next: (...a: [] | [unknown]) => wrap(it.next(...a)),
    return: (value?: unknown) =>
      wrap(it.return?.(value) ?? Promise.resolve({ done: true, value: value as T })),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Wraps a function (or class) so that a permission failure it throws or rejects with is reported. */
function _watched<F extends object>(api: string, fn: F): F {
  const settle = (result: unknown): unknown => {
    if (result instanceof Promise) {
      return result.catch((e: unknown) => {
        throw _noted(api, e);
      });
    }
    if (typeof result !== "object" || result === null || !(Symbol.asyncIterator in result)) {
      return result;
    }
    if (typeof (result as { next?: unknown }).next === "function") {
      return _notedIterator(api, result as AsyncIterableIterator<unknown>);
    }
    // An iterable (Deno.readDir's): its iterator fails at the first step.
    const iterable = result as AsyncIterable<unknown>;
    return {
      [Symbol.asyncIterator]: () =>
        _notedIterator(
          api,
          iterable[Symbol.asyncIterator]() as AsyncIterableIterator<unknown>,
        ),
    };
  };
  return new Proxy(fn, {
    apply(target, self, args) {
      try {
        return settle(Reflect.apply(target as (...a: unknown[]) => unknown, self, args));
      } catch (error) {
        throw _noted(api, error);
      }
    },
    construct(target, args, newTarget) {
      try {
        return Reflect.construct(target as new (...a: unknown[]) => object, args, newTarget);
      } catch (error) {
        throw _noted(api, error);
      }
    },
  });
}

/** Wraps every method of `object` (and of each class's prototype) with {@linkcode _watched}. */
function _watchMethods(object: Record<string, unknown>, prefix: string): void {
  for (const key of Object.getOwnPropertyNames(object)) {
    const d = Object.getOwnPropertyDescriptor(object, key);
    if (d === undefined || key === "constructor") continue;
    let fn: unknown = d.value;
    if (d.get !== undefined) {
      // Deno defines some members (Command, serve, kill, …) as lazy getters.
      try {
        fn = d.get.call(object);
      } catch {
        continue;
      }
    }
    if (typeof fn !== "function") continue;
    const proto = (fn as { prototype?: unknown }).prototype;
    if (typeof proto === "object" && proto !== null && /^[A-Z]/.test(key)) {
      _watchMethods(proto as Record<string, unknown>, `${prefix}${key}.prototype.`);
    }
    try {
      Object.defineProperty(object, key, {
        value: _watched(`${prefix}${key}`, fn),
        writable: d.get === undefined ? d.writable === true : false,
        enumerable: d.enumerable === true,
        configurable: d.configurable === true,
      });
    } catch {
      // A frozen member stays as it is; the permission set still governs it.
    }
  }
}

/** A function that reports an attempt to generate code and throws as V8 would. */
function _noCode(api: string): (...args: unknown[]) => never {
  // A function, not an arrow: `new Function("…")` must reach it too.
  return function () {
    _deny(api, "code", "code generation from strings is disallowed in a tool");
    throw new _EvalError(`Code generation from strings disallowed for this context (${api})`);
  };
}

/** A function that reports an attempt to learn a host fact and throws as a permission check would. */
function _noHostFact(api: string): () => never {
  return () => {
    const error = new _NotCapable(
      `Requires sys access to "${api}": a tool may not learn facts about its host`,
    );
    _reported.add(error);
    _deny(api, "sys", error.message);
    throw error;
  };
}

/** Makes `object[key]` an accessor that reports every read and yields undefined. */
function _forbid(object: object, key: string | symbol, api: string, kind: DenialKind): void {
  try {
    Object.defineProperty(object, key, {
      get() {
        _deny(api, kind, `${api} is not available in a tool`);
        return undefined;
      },
      configurable: false,
    });
  } catch {
    // A non-configurable member stays; the permission set still governs it.
  }
}

function _lockDown(): void {
  const g = globalThis as Record<string, unknown>;
  for (const [name, kind] of Object.entries(_UNGOVERNED)) _forbid(g, name, name, kind);
  // Code from strings: V8 refuses it (the host's flag); these report the attempt too.
  const F = Function;
  const noFunction = _noCode("Function");
  Object.defineProperty(noFunction, "prototype", { value: F.prototype });
  Object.defineProperty(g, "Function", { value: noFunction, writable: false, configurable: false });
  const constructors = [
    ["Function", F.prototype],
    ["AsyncFunction", Object.getPrototypeOf(async function () {})],
    ["GeneratorFunction", Object.getPrototypeOf(function* () {})],
    ["AsyncGeneratorFunction", Object.getPrototypeOf(async function* () {})],
  ] as const;
  for (const [name, proto] of constructors) {
    const stub = name === "Function" ? noFunction : _noCode(name);
    Object.defineProperty(proto, "constructor", { value: stub, writable: false });
  }
  Object.defineProperty(g, "eval", { value: _noCode("eval"), writable: false });
  for (const name of ["setTimeout", "setInterval"] as const) {
    const timer = g[name] as (handler: unknown, ...rest: unknown[]) => number;
    const guarded = _noCode(`${name}(string)`);
    g[name] = (handler: unknown, ...rest: unknown[]) =>
      typeof handler === "string" ? guarded() : timer(handler, ...rest);
  }
  // Deno.exit in a worker closes it silently; make it an error the call reports.
  Object.defineProperty(Deno, "exit", {
    value: () => {
      _deny("Deno.exit", "global", "a tool may not exit its isolate");
      throw new Error("Cannot exit from a tool: return a value or throw instead");
    },
  });
  // The host's stdio is the frame pipe to the kernel: no tool may write to it
  // (a forged frame) or read it. Deno's internals would run strings as code.
  // Every permission-gated Deno function reports the attempt Deno refuses.
  const d = Deno as unknown as Record<string | symbol, unknown>;
  _watchMethods(d as Record<string, unknown>, "Deno.");
  for (const key of ["stdin", "stdout", "stderr"]) _forbid(d, key, `Deno.${key}`, "global");
  _forbid(d, (Deno as unknown as { internal: symbol }).internal, "Deno[Deno.internal]", "global");
  // Host facts, after the methods are watched (a getter read there would be reported).
  for (const name of _HOST_FACT_FUNCTIONS) {
    Object.defineProperty(d, name, {
      value: _noHostFact(`Deno.${name}`),
      writable: false,
      configurable: false,
    });
  }
  for (const name of _HOST_FACT_VALUES) _forbid(d, name, `Deno.${name}`, "sys");
  const navigatorProto = Object.getPrototypeOf(navigator) as object;
  for (const name of _NAVIGATOR_FACTS) _forbid(navigatorProto, name, `navigator.${name}`, "sys");
  for (const sub of ["env", "permissions"]) {
    const o = d[sub];
    if (typeof o === "object" && o !== null) {
      _watchMethods(o as Record<string, unknown>, `Deno.${sub}.`);
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) {
        _watchMethods(proto as Record<string, unknown>, `Deno.${sub}.`);
      }
    }
  }
  // With --no-prompt a permission request answers "denied" rather than throwing.
  // (`request` calls `requestSync`: only the outermost request is one attempt.)
  const permissions = Deno.permissions as unknown as Record<string, unknown>;
  let requesting = 0;
  for (const m of ["request", "requestSync"]) {
    const request = permissions[m] as (d: Deno.PermissionDescriptor) => unknown;
    permissions[m] = (descriptor: Deno.PermissionDescriptor) => {
      const outermost = requesting === 0;
      const noted = (status: Deno.PermissionStatus) => {
        if (outermost && status?.state !== "granted") {
          const name = String(descriptor?.name);
          const kind = _PERMISSION_KINDS.has(name as DenialKind) ? name as DenialKind : "sys";
          _deny(`Deno.permissions.${m}`, kind, `a request for ${name} permission was refused`);
        }
        return status;
      };
      let status: unknown;
      requesting += 1;
      try {
        status = request.call(Deno.permissions, descriptor);
      } finally {
        requesting -= 1;
      }
      return status instanceof Promise
        ? status.then(noted)
        : noted(status as Deno.PermissionStatus);
    };
  }
  g.fetch = _watched("fetch", g.fetch as typeof fetch);
  // console writes to the pipe too: its lines become log messages of the call.
  const c = console as unknown as Record<string, unknown>;
  for (const m of ["log", "info", "warn", "error", "debug", "trace", "dir", "table"]) {
    c[m] = (...args: unknown[]) => {
      const call = _openCall();
      if (call === undefined) return;
      const line = args.map((a) => typeof a === "string" ? a : _inspect(a)).join(" ");
      _post({ type: "log", id: call.id, line: _clip(line, _MAX_LOG_LINE) });
    };
  }
  // zod probes `new Function("")` once unless it is told not to compile parsers.
  z.config({ jitless: true });
}

/** The first call still open in this worker (calls of one tool run one at a time). */
function _openCall(): _Call | undefined {
  for (const call of _calls.values()) if (!call.closed) return call;
  return undefined;
}

/** Errors this worker made from syscall results: the only ones whose code passes through. */
const _syscallErrors = new WeakSet<Error>();

function _syscallError(error: WireError): Error {
  const e = new Error(error.message) as Error & { code: string };
  e.name = "SyscallError";
  e.code = error.code;
  _syscallErrors.add(e);
  return e;
}

function _clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

interface _Call {
  id: number;
  seq: number;
  closed: boolean;
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

let _tool: Tool | null = null;
let _code: ToolCode | null = null;
let _url = "";
let _loadError: WireError | null = null;
let _loading: Promise<void> | null = null;
const _calls = new Map<number, _Call>();

function _describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // The module's URL is the whole source; name the tool by its hash instead.
  return _clip(_url === "" ? text : text.split(_url).join(`tool:${_code?.hash}`), _MAX_MESSAGE);
}

async function _load(code: ToolCode): Promise<void> {
  _code = code;
  try {
    _url = `data:application/typescript,${encodeURIComponent(code.source)}`;
    const mod = await import(_url);
    const tool = (mod as { default?: unknown }).default as Tool | undefined;
    if (typeof tool !== "object" || tool === null || tool.kind !== "libos.tool") {
      throw new TypeError("its default export is not made by defineTool");
    }
    _tool = tool;
  } catch (error) {
    _noted("tool module", error);
    _loadError = {
      code: "EINVAL",
      message: `Cannot load tool: ${_describeError(error)}`,
    };
  }
}

async function _ready(): Promise<Tool | WireError> {
  if (_loading === null) return { code: "EINTERNAL", message: "Cannot run tool: none is loaded" };
  await _loading;
  return _tool ?? _loadError!;
}

function _syscall(call: _Call, name: SyscallName, args: SyscallArgs): Promise<unknown> {
  if (call.closed) {
    _deny(`sys.${name}`, "syscall", `a syscall of call ${call.id} after the call had ended`);
    return Promise.reject(
      _syscallError({ code: "ECANCELED", message: `Cannot run ${name}: the tool call has ended` }),
    );
  }
  const seq = ++call.seq;
  return new Promise((resolve, reject) => {
    call.pending.set(seq, { resolve, reject });
    _post({ type: "syscall", id: call.id, seq, name, args });
  });
}

/** Drops `undefined` fields so that an omitted optional argument is absent, not undefined. */
function _args(fields: Record<string, unknown>): SyscallArgs {
  const out: SyscallArgs = {};
  for (const key in fields) if (fields[key] !== undefined) out[key] = fields[key];
  return out;
}

function _makeSys(call: _Call): ToolSys {
  // deno-lint-ignore no-explicit-any
  const sc = (name: SyscallName, fields: Record<string, unknown>): Promise<any> =>
    _syscall(call, name, _args(fields));
  return {
    fs: {
      readText: (path) => sc("fs.readText", { path }),
      readBytes: (path) => sc("fs.readBytes", { path }),
      write: (path, data) => sc("fs.write", { path, data }),
      list: (path) => sc("fs.list", { path }),
      stat: (path) => sc("fs.stat", { path }),
      delete: (path) => sc("fs.delete", { path }),
      mkdir: (path) => sc("fs.mkdir", { path }),
    },
    obj: {
      create: ({ name, type, payload, namespace }) =>
        sc("obj.create", { name, type, payload, namespace }),
      read: (ref) => sc("obj.read", { ref }),
      write: (ref, payload) => sc("obj.write", { ref, payload }),
      list: (namespace) => sc("obj.list", { namespace }),
      link: (from, rel, to) => sc("obj.link", { from, rel, to }),
      delete: (ref) => sc("obj.delete", { ref }),
      fromFile: (path, name, type) => sc("obj.fromFile", { path, name, type }),
      toFile: (ref, path) => sc("obj.toFile", { ref, path }),
    },
    human: {
      ask: (question) => sc("human.ask", { question }),
      notify: (message) => sc("human.notify", { message }),
      requestPermission: (resource, rights, reason) =>
        sc("human.requestPermission", { resource, rights, reason }),
    },
    proc: {
      spawn: ({ goal, image, capabilities }) => sc("proc.spawn", { goal, image, capabilities }),
      fork: ({ goal, capabilities, objects }) => sc("proc.fork", { goal, capabilities, objects }),
      wait: (pid) => sc("proc.wait", { pid }),
      signal: (pid, signal) => sc("proc.signal", { pid, signal }),
      exit: (result) => sc("proc.exit", { result }),
      cwd: () => sc("proc.cwd", {}),
      chdir: (path) => sc("proc.chdir", { path }),
    },
    net: {
      fetch: ({ url, method, headers, body }) => sc("net.fetch", { url, method, headers, body }),
    },
    shell: {
      run: (argv, options) => sc("shell.run", { argv, timeoutMs: options?.timeoutMs }),
    },
    clock: {
      now: () => sc("clock.now", {}),
      sleep: (ms) => sc("clock.sleep", { ms }),
    },
    mbox: {
      send: ({ to, type, body }) => sc("mbox.send", { to, type, body }),
      receive: (input) => sc("mbox.receive", { from: input?.from, timeoutMs: input?.timeoutMs }),
    },
    log: (...args) => {
      if (call.closed) return;
      const line = args.map((a) => typeof a === "string" ? a : _inspect(a)).join(" ");
      _post({ type: "log", id: call.id, line: _clip(line, _MAX_LOG_LINE) });
    },
  };
}

function _inspect(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function _issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(input)"}: ${i.message}`).join("; ");
}

/** Opens a call: later denials (and those made while none was open) are its. */
function _open(id: number): _Call {
  const call: _Call = { id, seq: 0, closed: false, pending: new Map() };
  _calls.set(id, call);
  for (const denial of _orphans.splice(0)) {
    _post({ type: "denied", id, ...denial, message: `after an earlier call: ${denial.message}` });
  }
  return call;
}

async function _run(id: number, args: unknown): Promise<void> {
  const call = _open(id);
  let outcome: { ok: true; value: unknown } | { ok: false; error: WireError };
  const ready = await _ready();
  if (!("kind" in ready)) {
    outcome = { ok: false, error: ready };
  } else {
    outcome = await _runTool(ready, call, args);
  }
  call.closed = true;
  _calls.delete(id);
  for (const p of call.pending.values()) {
    p.reject(_syscallError({ code: "ECANCELED", message: "the tool call has ended" }));
  }
  try {
    _post({ type: "done", id, syscalls: call.seq, ...outcome } as WorkerMessage);
  } catch (error) {
    _post({
      type: "done",
      id,
      syscalls: call.seq,
      ok: false,
      error: { code: "ETOOL", message: `Cannot return from tool: ${_describeError(error)}` },
    });
  }
}

async function _runTool(
  tool: Tool,
  call: _Call,
  args: unknown,
): Promise<{ ok: true; value: unknown } | { ok: false; error: WireError }> {
  const input = tool.input.safeParse(args);
  if (!input.success) {
    return {
      ok: false,
      error: {
        code: "EINVAL",
        message: `Cannot call tool '${tool.name}': ${_issues(input.error)}`,
      },
    };
  }
  let value: unknown;
  try {
    value = await tool.run(input.data, _makeSys(call));
  } catch (error) {
    // A permission failure that no watched API saw (a path inside Deno) is reported here.
    _noted(`tool '${tool.name}'`, error);
    if (error instanceof Error && _syscallErrors.has(error)) {
      const code = (error as Error & { code: string }).code;
      return { ok: false, error: { code, message: _clip(error.message, _MAX_MESSAGE) } };
    }
    return {
      ok: false,
      error: { code: "ETOOL", message: `Tool '${tool.name}' failed: ${_describeError(error)}` },
    };
  }
  const output = tool.output.safeParse(value);
  if (!output.success) {
    return {
      ok: false,
      error: {
        code: "ETOOL",
        message: `Cannot return from tool '${tool.name}': its output does not match its schema: ${
          _issues(output.error)
        }`,
      },
    };
  }
  return { ok: true, value: output.data ?? null };
}

async function _describe(id: number): Promise<void> {
  const call = _open(id);
  const ready = await _ready();
  call.closed = true;
  _calls.delete(id);
  if (!("kind" in ready)) {
    _post({ type: "described", id, ok: false, error: ready });
    return;
  }
  try {
    const options = { unrepresentable: "any" } as const;
    _post({
      type: "described",
      id,
      ok: true,
      description: {
        name: ready.name,
        description: ready.description,
        inputSchema: z.toJSONSchema(ready.input, { ...options, io: "input" }) as Record<
          string,
          unknown
        >,
        outputSchema: z.toJSONSchema(ready.output, { ...options, io: "output" }) as Record<
          string,
          unknown
        >,
      },
    });
  } catch (error) {
    _post({
      type: "described",
      id,
      ok: false,
      error: {
        code: "EINVAL",
        message: `Cannot describe tool '${ready.name}': ${_describeError(error)}`,
      },
    });
  }
}

function _dispatch(message: HostToWorker): void {
  switch (message.type) {
    case "load":
      if (_loading === null) _loading = _load(message.tool);
      return;
    case "run":
      void _run(message.id, message.args);
      return;
    case "describe":
      void _describe(message.id);
      return;
    case "ping":
      _post({ type: "pong", n: message.n });
      return;
    case "result": {
      const call = _calls.get(message.id);
      const waiter = call?.pending.get(message.seq);
      if (call === undefined || waiter === undefined) return;
      call.pending.delete(message.seq);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(_syscallError(message.error));
      return;
    }
    default: {
      const never: never = message;
      throw new TypeError(`Cannot dispatch worker message ${JSON.stringify(never)}`);
    }
  }
}

_lockDown();
_scope.addEventListener("message", (event) => _dispatch(event.data));
_post({ type: "ready" });
