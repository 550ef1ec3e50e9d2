/**
 * The isolate host: the program a `deno run` subprocess runs, with no
 * `--allow-*` flag, under bubblewrap where there is one. It speaks the
 * protocol of `protocol.ts` with the kernel in length-prefixed frames on
 * stdin/stdout, and runs each tool in its own `Worker` with no permissions.
 *
 * The host serves one process (`bind`) for its whole life. It keeps one worker
 * per tool (by content hash) and one spare worker with the SDK already loaded,
 * so that a tool's first call does not wait for a worker to start. A worker
 * message that does not validate is reported to the kernel as a `fault`; the
 * kernel then kills this host.
 *
 * Usage: `deno run … host_main.ts --max-frame <bytes>`
 *
 * @module
 */
import { encodeFrame, FrameError, FrameReader } from "./frame.ts";
import {
  type HostMessage,
  type KernelMessage,
  parseKernelMessage,
  parseWorkerMessage,
  PROTOCOL_VERSION,
  type ToolCode,
  type WirePermissions,
  type WorkerMessage,
} from "./protocol.ts";

const _maxFrame = _flag("--max-frame", 16 << 20);
const _maxWorkers = _flag("--max-workers", 16);
const _memoryPollMs = _flag("--memory-poll", 50);
const _idleAnswerMs = _flag("--idle-answer", 1000);
const _workerUrl = import.meta.resolve("libos/sandbox-worker");

function _flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  const value = i < 0 ? NaN : Number(Deno.args[i + 1]);
  return Number.isSafeInteger(value) && value > 0 ? value : fallback;
}

// ----------------------------------------------------------------- output

function _send(message: HostMessage): void {
  let frame: Uint8Array;
  try {
    frame = encodeFrame(message as unknown as Record<string, unknown>, _maxFrame);
  } catch (error) {
    if (!(error instanceof FrameError) || !("id" in message)) throw error;
    // Too large to send: tell the kernel why instead (a small frame).
    frame = encodeFrame({
      type: "fault",
      pid: _pid,
      id: message.id,
      error: {
        code: "ELIMIT",
        message:
          `Cannot send the '${message.type}' message of call ${message.id}: ${error.message}`,
      },
    }, _maxFrame);
  }
  let at = 0;
  while (at < frame.length) at += Deno.stdout.writeSync(frame.subarray(at));
}

function _fault(id: number | null, message: string): void {
  _send({ type: "fault", pid: _pid, id, error: { code: "EINVAL", message } });
}

// ---------------------------------------------------------------- workers

/** One tool's worker, and the messages waiting for it to start. */
class _ToolWorker {
  readonly worker: Worker;
  readonly permissions: string;
  readonly calls = new Set<number>();
  hash: string | null = null;
  #started = false;
  #onStarted: (() => void) | null = null;
  #queue: unknown[] = [];
  lastUsed = 0;
  /** The ping this worker has not answered yet, and when it was sent. */
  #ping: { n: number; at: number } | null = null;
  #pings = 0;

  constructor(permissions: WirePermissions) {
    this.permissions = JSON.stringify(permissions);
    this.worker = new Worker(_workerUrl, {
      type: "module",
      deno: { permissions },
    } as WorkerOptions);
    this.worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    this.worker.onmessageerror = () => this.#broken("sent a message that cannot be read");
    this.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#broken(`failed: ${event.message}`);
    };
  }

  /** Resolves when the worker has loaded the SDK and listens. */
  started(): Promise<void> {
    if (this.#started) return Promise.resolve();
    return new Promise((resolve) => this.#onStarted = resolve);
  }

  load(tool: ToolCode): void {
    this.hash = tool.hash;
    this.post({ type: "load", tool });
  }

  post(message: unknown, transfer: Transferable[] = []): void {
    if (this.#started) this.worker.postMessage(message, transfer);
    else this.#queue.push(message);
  }

  /**
   * Pings an idle worker that has run a tool; true when it has left a ping
   * unanswered past `--idle-answer` (a timer the tool left behind is spinning).
   */
  unresponsive(now: number): boolean {
    if (this.hash === null || this.calls.size > 0 || !this.#started) {
      this.#ping = null;
      return false;
    }
    if (this.#ping !== null) return now - this.#ping.at > _idleAnswerMs;
    this.#ping = { n: ++this.#pings, at: now };
    this.worker.postMessage({ type: "ping", n: this.#ping.n });
    return false;
  }

  /** Restarts the window of an unanswered ping. */
  rewindPing(now: number): void {
    if (this.#ping !== null) this.#ping.at = now;
  }

  terminate(): void {
    this.worker.terminate();
    for (const id of this.calls) _callWorkers.delete(id);
    this.calls.clear();
  }

  #onMessage(raw: unknown): void {
    const parsed = parseWorkerMessage(raw);
    if (!parsed.ok) {
      const id = this.calls.values().next().value ?? null;
      _fault(id, `Cannot accept a message from tool ${this.hash}: ${parsed.reason}`);
      this.#drop();
      return;
    }
    this.#dispatch(parsed.message);
  }

  #dispatch(message: WorkerMessage): void {
    switch (message.type) {
      case "ready": {
        this.#started = true;
        this.#onStarted?.();
        this.#onStarted = null;
        const queue = this.#queue;
        this.#queue = [];
        for (const m of queue) this.worker.postMessage(m);
        return;
      }
      case "pong":
        if (this.#ping?.n === message.n) this.#ping = null;
        return;
      case "syscall":
      case "log":
      case "denied":
        if (!this.calls.has(message.id)) {
          _fault(message.id, `Cannot relay a '${message.type}' of call ${message.id}: not active`);
          this.#drop();
          return;
        }
        _send({ ...message, pid: _pid! });
        return;
      case "done":
      case "described":
        if (!this.calls.delete(message.id)) {
          _fault(message.id, `Cannot relay a '${message.type}' of call ${message.id}: not active`);
          this.#drop();
          return;
        }
        _callWorkers.delete(message.id);
        this.lastUsed = performance.now();
        _send({ ...message, pid: _pid! });
        // A new spare starts once the call is answered, so that it does not slow the call down.
        if (_spare === null) setTimeout(_refillSpare, 0);
        return;
      default: {
        const never: never = message;
        throw new TypeError(`Cannot dispatch ${JSON.stringify(never)}`);
      }
    }
  }

  /** An uncaught error or a lost message: every call on this worker fails. */
  #broken(reason: string): void {
    for (const id of this.calls) {
      _send({
        type: "done",
        pid: _pid!,
        id,
        syscalls: 0,
        ok: false,
        error: { code: "ETOOL", message: `Tool ${this.hash ?? "(loading)"} ${reason}` },
      });
    }
    this.#drop();
  }

  #drop(): void {
    if (this.hash !== null && _workers.get(this.hash) === this) _workers.delete(this.hash);
    if (_spare === this) _spare = null;
    this.terminate();
  }
}

let _pid: string | null = null;
const _workers = new Map<string, _ToolWorker>();
const _callWorkers = new Map<number, _ToolWorker>();
let _memoryTimer: ReturnType<typeof setInterval> | null = null;
let _spare: _ToolWorker | null = null;
let _sparePermissions: WirePermissions | null = null;

/**
 * While calls run, the host reports its resident memory (every worker's
 * included: they are threads of this process); the kernel decides. The
 * kernel cannot read another process's /proc without --allow-all.
 */
function _watchMemory(): void {
  if (_callWorkers.size > 0 && _memoryTimer === null) {
    _memoryTimer = setInterval(() => {
      if (_callWorkers.size === 0) {
        clearInterval(_memoryTimer!);
        _memoryTimer = null;
        return;
      }
      _send({ type: "memory", rss: Deno.memoryUsage().rss });
    }, _memoryPollMs);
  }
}

/** The worker for `tool`: the running one, else the spare (a new spare starts once the call is answered). */
function _workerFor(tool: ToolCode, permissions: WirePermissions): _ToolWorker {
  const key = JSON.stringify(permissions);
  const running = _workers.get(tool.hash);
  if (running !== undefined && running.permissions === key) return running;
  if (running !== undefined) {
    _workers.delete(tool.hash);
    running.terminate();
  }
  _evictIdle();
  let w: _ToolWorker;
  if (_spare !== null && _spare.permissions === key) {
    w = _spare;
    _spare = null;
  } else {
    w = new _ToolWorker(permissions);
  }
  w.load(tool);
  _workers.set(tool.hash, w);
  _sparePermissions = permissions;
  return w;
}

/**
 * Watches the workers whose calls have ended: one that does not answer a
 * ping in time is running code its call left behind, and no `terminate()`
 * stops a busy loop, so the host asks the kernel to end it.
 */
function _watchIdle(): void {
  const period = Math.max(10, Math.floor(_idleAnswerMs / 4));
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    // A late tick means this thread was starved, and answers may be queued behind it:
    // every unanswered ping gets a full window again.
    const starved = now - last > 2 * period;
    last = now;
    for (const w of _workers.values()) {
      if (starved) w.rewindPing(now);
      else if (!w.unresponsive(now)) continue;
      else {
        _send({
          type: "fault",
          pid: _pid,
          id: null,
          error: {
            code: "ETIMEDOUT",
            message:
              `Cannot keep the worker of tool ${w.hash}: it kept running after its call had ended (no answer in ${_idleAnswerMs} ms)`,
          },
        });
        return;
      }
    }
  }, period);
}

function _refillSpare(): void {
  if (_spare === null && _sparePermissions !== null) _spare = new _ToolWorker(_sparePermissions);
}

/** Keeps at most `--max-workers` tool workers, ending the least recently used idle ones. */
function _evictIdle(): void {
  if (_workers.size < _maxWorkers) return;
  const idle = [..._workers.values()].filter((w) => w.calls.size === 0)
    .sort((a, b) => a.lastUsed - b.lastUsed);
  for (const w of idle.slice(0, _workers.size - _maxWorkers + 1)) {
    _workers.delete(w.hash!);
    w.terminate();
  }
}

// --------------------------------------------------------------- dispatch

function _dispatch(message: KernelMessage): void {
  switch (message.type) {
    case "bind":
      if (_pid !== null) {
        throw new TypeError(`Cannot bind host to ${message.pid}: bound to ${_pid}`);
      }
      _pid = message.pid;
      return;
    case "run":
    case "describe": {
      if (_pid === null) throw new TypeError(`Cannot start call ${message.id}: host is not bound`);
      const permissions = message.type === "run" ? message.permissions : _NO_PERMISSIONS;
      const w = _workerFor(message.tool, permissions);
      w.calls.add(message.id);
      _callWorkers.set(message.id, w);
      _watchMemory();
      w.post(
        message.type === "run" ? { type: "run", id: message.id, args: message.args } : {
          type: "describe",
          id: message.id,
        },
      );
      return;
    }
    case "result": {
      const w = _callWorkers.get(message.id);
      if (w === undefined) return; // the call ended; a late answer has no one to go to
      const transfer = message.ok && message.value instanceof Uint8Array
        ? [message.value.buffer as ArrayBuffer]
        : [];
      w.post(message, transfer);
      return;
    }
    case "cancel": {
      const w = _callWorkers.get(message.id);
      if (w === undefined) return;
      // The tool might catch what ended its call and go on: its worker goes.
      if (w.hash !== null && _workers.get(w.hash) === w) _workers.delete(w.hash);
      w.terminate();
      if (_spare === null) setTimeout(_refillSpare, 0);
      return;
    }
    default: {
      const never: never = message;
      throw new TypeError(`Cannot dispatch ${JSON.stringify(never)}`);
    }
  }
}

const _NO_PERMISSIONS: WirePermissions = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
};

async function _main(): Promise<void> {
  const reader = new FrameReader(Deno.stdin.readable, { maxBytes: _maxFrame });
  _sparePermissions = _NO_PERMISSIONS;
  _refillSpare();
  // Ready means warm: the spare worker has the SDK and zod loaded.
  await _spare?.started();
  _send({ type: "ready", version: PROTOCOL_VERSION });
  _watchIdle();
  for (;;) {
    const raw = await reader.next();
    if (raw === null) break;
    const parsed = parseKernelMessage(raw);
    if (!parsed.ok) throw new TypeError(`Cannot accept kernel message: ${parsed.reason}`);
    _dispatch(parsed.message);
  }
}

try {
  await _main();
  Deno.exit(0);
} catch (error) {
  // The kernel sees the exit and this line on stderr.
  console.error(`isolate host: ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(2);
}
