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
const _MAX_LOG_LINE = 4096;
const _MAX_MESSAGE = 4096;

/** Globals that reach other workers or storage without any permission check. */
const _UNGOVERNED = [
  // Compiles code that no string-codegen flag governs.
  "WebAssembly",
  // Node's process object reaches the host's stdio (the frame pipe).
  "process",
  "BroadcastChannel",
  "caches",
  "Worker",
  "SharedWorker",
  "localStorage",
  "sessionStorage",
  "indexedDB",
  "WebSocket",
  "WebSocketStream",
  "EventSource",
];

function _lockDown(): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of _UNGOVERNED) {
    try {
      delete g[name];
    } catch {
      // A non-configurable global stays; the permission set still governs it.
    }
  }
  // Deno.exit in a worker closes it silently; make it an error the call reports.
  Object.defineProperty(Deno, "exit", {
    value: () => {
      throw new Error("Cannot exit from a tool: return a value or throw instead");
    },
  });
  // The host's stdio is the frame pipe to the kernel: no tool may write to it
  // (a forged frame) or read it. Deno's internals would run strings as code.
  const d = Deno as unknown as Record<string | symbol, unknown>;
  for (
    const key of ["stdin", "stdout", "stderr", (Deno as unknown as { internal: symbol }).internal]
  ) {
    try {
      Object.defineProperty(d, key, { value: undefined, configurable: false, writable: false });
    } catch {
      // Already gone.
    }
  }
  // console writes to the pipe too: its lines become log messages of the call.
  const c = console as unknown as Record<string, unknown>;
  for (const m of ["log", "info", "warn", "error", "debug", "trace", "dir", "table"]) {
    c[m] = (...args: unknown[]) => {
      const call = _calls.values().next().value as _Call | undefined;
      if (call === undefined || call.closed) return;
      const line = args.map((a) => typeof a === "string" ? a : _inspect(a)).join(" ");
      _post({ type: "log", id: call.id, line: _clip(line, _MAX_LOG_LINE) });
    };
  }
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

async function _run(id: number, args: unknown): Promise<void> {
  const call: _Call = { id, seq: 0, closed: false, pending: new Map() };
  _calls.set(id, call);
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
  const ready = await _ready();
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
