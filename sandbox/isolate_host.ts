/**
 * The kernel's side of one isolate host: it starts the subprocess (see
 * `host_launch.ts`), speaks the protocol with it, and supervises it. Every
 * message from the host is validated; a forged or malformed one (a wrong pid,
 * a repeated or skipped sequence number, a call that is not running, a
 * missing field, a `__proto__` key, an oversized frame) is refused, audited,
 * and ends the host. A call past its deadline, a host past its memory, a
 * syscall flood or an oversized message also ends the host; the call fails
 * with `ETIMEDOUT`, `ENOMEM` or `ELIMIT`, and the kernel carries on.
 *
 * A host serves one process for its whole life (`bind`).
 *
 * @module
 */
import { ERROR_CODES, type ErrorCode, type ErrorData, libosError } from "../runtime/mod.ts";
import { encodeFrame, FrameError, FrameReader } from "./frame.ts";
import { hostDenoDir, type LaunchPlan } from "./host_launch.ts";
import type { SandboxLimits } from "./limits.ts";
import {
  CALL_ENDING_CODES,
  clipMessage,
  type HostMessage,
  type KernelMessage,
  parseHostMessage,
  PROTOCOL_VERSION,
  type SyscallArgs,
  type SyscallName,
  type ToolCode,
  type ToolSelfDescription,
  type WirePermissions,
} from "./protocol.ts";

/** The life of a host. */
export type HostState = "starting" | "ready" | "dead";

/** A record the sandbox asks the kernel to audit. */
export interface SandboxAuditRecord {
  /**
   * `sandbox.refuse` (a forged or malformed message), `sandbox.kill` (a host
   * ended by a limit), `sandbox.deny` (an attempt the isolate blocked: a
   * permission, a removed global, code generation), `sandbox.limit` (a call
   * failed by a limit, its host alive) or `tool.refuse` (a tool file the scan
   * refused).
   */
  action: "sandbox.refuse" | "sandbox.kill" | "sandbox.deny" | "sandbox.limit" | "tool.refuse";
  /** The process the host served, if it was bound. */
  pid: string | null;
  /** `deny` for a denial or a limit; absent otherwise. */
  decision?: "deny";
  /** What was denied: `isolate:<kind>` for `sandbox.deny`, `tool:<file>` for `tool.refuse`. */
  resource?: string;
  detail: {
    reason: string;
    code?: string;
    host?: number;
    call?: string;
    api?: string;
    kind?: string;
  };
}

/** Options of {@linkcode IsolateHost.start}. */
export interface IsolateHostOptions {
  plan: LaunchPlan;
  limits: SandboxLimits;
  /** Receives refusals and kills, for the audit log. Default: none. */
  audit?: (record: SandboxAuditRecord) => void;
}

/** One tool call on a host. */
export interface HostCall {
  tool: ToolCode;
  /** How messages name the tool (its name or path). */
  label: string;
  args: unknown;
  deadlineMs: number;
  permissions: WirePermissions;
  /** Serves one syscall; its rejection's `code` and `message` go back to the tool. */
  serve(name: SyscallName, args: SyscallArgs): Promise<unknown>;
  /** Receives the tool's log lines. */
  log?: (line: string) => void;
}

/** How a call on a host ended. */
export type HostCallResult =
  | { ok: true; value: unknown; syscalls: number }
  | { ok: false; error: ErrorData; syscalls: number };

/** How a describe call ended. */
export type HostDescribeResult =
  | { ok: true; description: ToolSelfDescription }
  | { ok: false; error: ErrorData };

interface _Call {
  id: number;
  kind: "run" | "describe";
  label: string;
  nextSeq: number;
  inFlight: number;
  logs: number;
  denials: number;
  /** Error codes the kernel returned to this call's syscalls: the only ones its result may carry. */
  codes: Set<string>;
  /** A `done` that waits for syscalls still in flight. */
  pendingDone: HostCallResult | null;
  serve: HostCall["serve"] | null;
  log: HostCall["log"] | null;
  timer: ReturnType<typeof setTimeout>;
  settle(result: HostCallResult | HostDescribeResult): void;
}

const _KNOWN_CODES: ReadonlySet<string> = new Set<string>(ERROR_CODES);

const _STDERR_TAIL = 8192;

/** One isolate host subprocess, supervised. */
export class IsolateHost implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: FrameReader;
  readonly #limits: SandboxLimits;
  readonly #audit: (record: SandboxAuditRecord) => void;
  readonly #calls = new Map<number, _Call>();
  #done: Promise<void>;
  #state: HostState = "starting";
  #pid: string | null = null;
  #nextId = 1;
  #served = 0;
  #stderr = "";
  #ready: PromiseWithResolvers<void> = Promise.withResolvers();
  #death: ErrorData | null = null;
  #frameSize = 0;

  private constructor(child: Deno.ChildProcess, options: IsolateHostOptions) {
    this.#child = child;
    this.#limits = options.limits;
    this.#audit = options.audit ?? (() => {});
    this.#writer = child.stdin.getWriter();
    this.#reader = new FrameReader(child.stdout, { maxBytes: options.limits.messageBytes });
    const decoder = new TextDecoder();
    const stderr = child.stderr.pipeTo(
      new WritableStream({
        write: (chunk) => {
          this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(
            -_STDERR_TAIL,
          );
        },
      }),
    ).catch(() => {});
    const reading = this.#readLoop();
    this.#done = Promise.all([stderr, reading, child.status]).then(() => this.#onExit());
  }

  /** Starts a host and waits until it says it is ready. */
  static async start(options: IsolateHostOptions): Promise<IsolateHost> {
    const { plan } = options;
    const denoDir = plan.npmRoot === null ? null : await hostDenoDir(plan.npmRoot);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(plan.command, {
        args: plan.args,
        env: denoDir === null ? plan.env : { ...plan.env, DENO_DIR: denoDir.path },
        clearEnv: true,
        cwd: plan.cwd,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      await denoDir?.remove();
      throw error;
    }
    const host = new IsolateHost(child, options);
    if (denoDir !== null) host.#done = host.#done.then(() => denoDir.remove());
    const timer = setTimeout(
      () => host.#kill({ code: "EINTERNAL", message: "it did not become ready in time" }),
      options.limits.startMs,
    );
    try {
      await host.#ready.promise;
    } finally {
      clearTimeout(timer);
    }
    return host;
  }

  /** Where the host is in its life. */
  get state(): HostState {
    return this.#state;
  }

  /** The process this host serves, once bound. */
  get pid(): string | null {
    return this.#pid;
  }

  /** Calls this host has finished. */
  get served(): number {
    return this.#served;
  }

  /** Calls running now. */
  get active(): number {
    return this.#calls.size;
  }

  /** The operating-system pid of the host's subprocess. */
  get osPid(): number {
    return this.#child.pid;
  }

  /** Resolves when the subprocess has exited and its pipes are closed. */
  get exited(): Promise<void> {
    return this.#done;
  }

  /** Binds the host to the one process it will serve; a host is bound once. */
  bind(pid: string): void {
    if (this.#pid !== null) {
      throw new TypeError(`Cannot bind isolate host to ${pid}: it serves ${this.#pid}`);
    }
    this.#pid = pid;
    this.#send({ type: "bind", pid });
  }

  /** Runs one tool call. Never rejects: failures are results. */
  run(call: HostCall): Promise<HostCallResult> {
    return this.#start("run", call.label, call.deadlineMs, call, (id) => ({
      type: "run",
      id,
      tool: call.tool,
      args: call.args,
      permissions: call.permissions,
    })) as Promise<HostCallResult>;
  }

  /** Loads a tool and returns what it says about itself. Never rejects. */
  describe(
    tool: ToolCode,
    options: { label: string; deadlineMs: number },
  ): Promise<HostDescribeResult> {
    return this.#start("describe", options.label, options.deadlineMs, null, (id) => ({
      type: "describe",
      id,
      tool,
    })) as Promise<HostDescribeResult>;
  }

  /** Kills the host; running calls fail with `ECANCELED`. */
  kill(reason = "the sandbox was shut down"): void {
    this.#kill({ code: "ECANCELED", message: reason });
  }

  /** Kills the host and waits until it is gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill();
    await this.#done;
  }

  // ------------------------------------------------------------ calls

  #start(
    kind: "run" | "describe",
    label: string,
    deadlineMs: number,
    call: HostCall | null,
    message: (id: number) => KernelMessage,
  ): Promise<HostCallResult | HostDescribeResult> {
    if (this.#state !== "ready" || this.#pid === null) {
      const error = this.#death ??
        { code: "EINTERNAL", message: `Cannot run tool '${label}': its isolate host is not ready` };
      return Promise.resolve({ ok: false, error, syscalls: 0 });
    }
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<HostCallResult | HostDescribeResult>();
    const entry: _Call = {
      id,
      kind,
      label,
      nextSeq: 1,
      inFlight: 0,
      logs: 0,
      denials: 0,
      codes: new Set(),
      pendingDone: null,
      serve: call?.serve ?? null,
      log: call?.log ?? null,
      timer: setTimeout(() => this.#deadline(entry, deadlineMs), deadlineMs),
      settle: resolve,
    };
    this.#calls.set(id, entry);
    this.#send(message(id));
    return promise;
  }

  #settle(call: _Call, result: HostCallResult | HostDescribeResult): void {
    if (this.#calls.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    clearTimeout(call.timer);
    this.#served += 1;
    call.settle(result);
  }

  #deadline(call: _Call, deadlineMs: number): void {
    const error: ErrorData = {
      code: "ETIMEDOUT",
      message:
        `Cannot finish tool '${call.label}': it ran past its ${deadlineMs} ms deadline; its isolate host was killed`,
    };
    this.#kill(error, call);
  }

  // ------------------------------------------------------------ reading

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const raw = await this.#reader.next();
        if (raw === null) return;
        this.#frameSize = this.#reader.lastSize;
        const parsed = parseHostMessage(raw);
        if (!parsed.ok) {
          this.#refuse(parsed.reason, { code: "EINVAL" });
          return;
        }
        this.#dispatch(parsed.message);
        if (this.#state === "dead") return;
      }
    } catch (error) {
      if (this.#state === "dead") return;
      if (error instanceof FrameError) {
        const code: ErrorCode = error.fault === "oversize" ? "ELIMIT" : "EINVAL";
        this.#refuse(`a frame from the host: ${error.message}`, { code });
      } else {
        this.#kill({ code: "EINTERNAL", message: `Cannot read from the isolate host: ${error}` });
      }
    } finally {
      await this.#reader.cancel();
    }
  }

  #dispatch(message: HostMessage): void {
    switch (message.type) {
      case "ready":
        if (this.#state !== "starting" || message.version !== PROTOCOL_VERSION) {
          this.#refuse(`a 'ready' with version ${message.version} in state ${this.#state}`);
          return;
        }
        this.#state = "ready";
        this.#ready.resolve();
        return;
      case "syscall":
        this.#onSyscall(message);
        return;
      case "done":
        this.#onDone(message);
        return;
      case "described":
        this.#onDescribed(message);
        return;
      case "log": {
        const call = this.#callFor(message, "run", "describe");
        if (call === null) return;
        call.logs += 1;
        if (call.logs <= this.#limits.logLinesPerCall) call.log?.(message.line);
        return;
      }
      case "denied":
        this.#onDenied(message);
        return;
      case "memory":
        if (message.rss > this.#limits.hostMemoryBytes && this.#calls.size > 0) {
          this.#kill({
            code: "ENOMEM",
            message: `Cannot finish the tool call: its isolate host used ${
              Math.round(message.rss / 1048576)
            } MiB, past the ${
              Math.round(this.#limits.hostMemoryBytes / 1048576)
            } MiB limit; the host was killed`,
          });
        }
        return;
      case "fault": {
        if (message.pid !== null && message.pid !== this.#pid) {
          this.#refuse(`a 'fault' for process ${message.pid}`);
          return;
        }
        if (message.error.code === "ETIMEDOUT" && message.id === null) {
          // A worker left running after its call: a limit, not a forged message.
          this.#kill({
            code: "ETIMEDOUT",
            message: clipMessage(`${message.error.message}; its isolate host was killed`),
          });
          return;
        }
        const code: ErrorCode = message.error.code === "ELIMIT" ? "ELIMIT" : "EINVAL";
        this.#refuse(`the host reported: ${message.error.message}`, { code });
        return;
      }
      default: {
        const never: never = message;
        this.#refuse(`an unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  /** The running call a message names, or null after refusing the message. */
  #callFor(
    message: { type: string; pid: string; id: number },
    ...kinds: ("run" | "describe")[]
  ): _Call | null {
    if (message.pid !== this.#pid) {
      this.#refuse(`a '${message.type}' for process ${message.pid}, not ${this.#pid}`);
      return null;
    }
    const call = this.#calls.get(message.id);
    if (call === undefined || !kinds.includes(call.kind)) {
      this.#refuse(
        `a '${message.type}' for call ${message.id}, which is not a running ${kinds.join(" or ")}`,
      );
      return null;
    }
    return call;
  }

  /** An attempt the isolate blocked: one `sandbox.deny` record each, up to the limit. */
  #onDenied(message: Extract<HostMessage, { type: "denied" }>): void {
    const call = this.#callFor(message, "run", "describe");
    if (call === null) return;
    call.denials += 1;
    if (call.denials > this.#limits.deniedPerCall) {
      this.#kill({
        code: "ELIMIT",
        message:
          `Cannot finish tool '${call.label}': the isolate blocked more than ${this.#limits.deniedPerCall} of its attempts; its isolate host was killed`,
      }, call);
      return;
    }
    this.#audit({
      action: "sandbox.deny",
      pid: this.#pid,
      decision: "deny",
      resource: `isolate:${message.kind}`,
      detail: {
        reason: message.message,
        api: message.api,
        kind: message.kind,
        call: call.label,
      },
    });
  }

  #onSyscall(message: Extract<HostMessage, { type: "syscall" }>): void {
    const call = this.#callFor(message, "run");
    if (call === null) return;
    if (call.pendingDone !== null) {
      this.#refuse(`syscall ${message.seq} of call ${call.id} after the call was done`);
      return;
    }
    if (message.seq !== call.nextSeq) {
      const how = message.seq < call.nextSeq ? "repeats" : "skips";
      this.#refuse(
        `syscall ${message.seq} of call ${call.id} ${how} a sequence number (expected ${call.nextSeq})`,
      );
      return;
    }
    call.nextSeq += 1;
    const count = message.seq;
    if (count > this.#limits.syscallsPerCall || call.inFlight >= this.#limits.syscallsInFlight) {
      const what = count > this.#limits.syscallsPerCall
        ? `more than ${this.#limits.syscallsPerCall} syscalls`
        : `more than ${this.#limits.syscallsInFlight} syscalls at once`;
      this.#kill({
        code: "ELIMIT",
        message: `Cannot finish tool '${call.label}': it made ${what}; its isolate host was killed`,
      }, call);
      return;
    }
    call.inFlight += 1;
    const serve = call.serve!;
    let served: Promise<unknown>;
    try {
      served = serve(message.name, message.args);
    } catch (error) {
      served = Promise.reject(error);
    }
    served.then(
      (value) => this.#answer(call, message.seq, { ok: true, value }),
      (error) => this.#answer(call, message.seq, { ok: false, error: _errorData(error) }),
    );
  }

  #answer(
    call: _Call,
    seq: number,
    outcome: { ok: true; value: unknown } | { ok: false; error: ErrorData },
  ): void {
    call.inFlight -= 1;
    if (this.#calls.get(call.id) !== call) return;
    if (!outcome.ok && CALL_ENDING_CODES.has(outcome.error.code)) {
      // The tool must not catch this and carry on: the call ends here, its worker goes.
      this.#send({ type: "cancel", id: call.id });
      this.#settle(call, { ok: false, error: outcome.error, syscalls: call.nextSeq - 1 });
      return;
    }
    if (!outcome.ok) call.codes.add(outcome.error.code);
    const reply: KernelMessage = outcome.ok
      ? { type: "result", id: call.id, seq, ok: true, value: outcome.value ?? null }
      : { type: "result", id: call.id, seq, ok: false, error: outcome.error };
    if (!this.#send(reply)) return;
    if (call.inFlight === 0 && call.pendingDone !== null) this.#settle(call, call.pendingDone);
  }

  #onDone(message: Extract<HostMessage, { type: "done" }>): void {
    const call = this.#callFor(message, "run");
    if (call === null) return;
    const syscalls = call.nextSeq - 1;
    let result: HostCallResult;
    if (message.ok && this.#frameSize > this.#limits.outputBytes) {
      const reason =
        `Cannot return from tool '${call.label}': its ${this.#frameSize}-byte output exceeds the ${this.#limits.outputBytes}-byte limit`;
      this.#audit({
        action: "sandbox.limit",
        pid: this.#pid,
        decision: "deny",
        resource: "isolate:output",
        detail: { reason, code: "ELIMIT", call: call.label },
      });
      result = { ok: false, error: { code: "ELIMIT", message: reason }, syscalls };
    } else if (message.ok) {
      result = { ok: true, value: message.value, syscalls };
    } else {
      result = { ok: false, error: this.#toolError(call, message.error), syscalls };
    }
    if (call.inFlight > 0) call.pendingDone = result;
    else this.#settle(call, result);
  }

  /** A tool may fail with a code the kernel gave it, or EINVAL / ETOOL; anything else is ETOOL. */
  #toolError(call: _Call, error: { code: string; message: string }): ErrorData {
    const allowed = error.code === "EINVAL" || error.code === "ETOOL" ||
      (call.codes.has(error.code) && !CALL_ENDING_CODES.has(error.code as ErrorCode));
    if (allowed && _KNOWN_CODES.has(error.code)) {
      return { code: error.code as ErrorCode, message: clipMessage(error.message) };
    }
    return { code: "ETOOL", message: clipMessage(`Tool '${call.label}' failed: ${error.message}`) };
  }

  #onDescribed(message: Extract<HostMessage, { type: "described" }>): void {
    const call = this.#callFor(message, "describe");
    if (call === null) return;
    this.#settle(
      call,
      message.ok
        ? { ok: true, description: message.description }
        : { ok: false, error: { code: "EINVAL", message: clipMessage(message.error.message) } },
    );
  }

  // ------------------------------------------------------------ writing

  /** Sends a message; false when the host is gone. */
  #send(message: KernelMessage): boolean {
    if (this.#state === "dead") return false;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(message as unknown as Record<string, unknown>, this.#limits.messageBytes);
    } catch (error) {
      if (!(error instanceof FrameError) || message.type !== "result") throw error;
      // A syscall result too large for the pipe fails that syscall, not the host.
      frame = encodeFrame({
        type: "result",
        id: message.id,
        seq: message.seq,
        ok: false,
        error: { code: "ELIMIT", message: `Cannot return the syscall result: ${error.message}` },
      }, this.#limits.messageBytes);
    }
    this.#writer.write(frame).catch(() => {
      // The host died; its exit settles the calls.
    });
    return true;
  }

  // ------------------------------------------------------------ supervision

  /** Refuses a message: audits it and ends the host; the running calls fail with `code`. */
  #refuse(reason: string, options: { code?: ErrorCode } = {}): void {
    const code = options.code ?? "EINVAL";
    this.#audit({
      action: "sandbox.refuse",
      pid: this.#pid,
      detail: { reason, code, host: this.#child.pid },
    });
    const message =
      `Cannot accept a message from the isolate host of ${this.#pid}: ${reason}; the host was killed`;
    this.#kill({ code, message: clipMessage(message) });
  }

  /** Kills the host: `call` (if given) and every other running call fail with `error`. */
  #kill(error: ErrorData, call?: _Call): void {
    if (this.#state === "dead") return;
    const wasReady = this.#state === "ready";
    this.#state = "dead";
    this.#death = error;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // It has exited already.
    }
    this.#writer.abort().catch(() => {});
    if (wasReady && error.code !== "ECANCELED") {
      this.#audit({
        action: "sandbox.kill",
        pid: this.#pid,
        detail: {
          reason: error.message,
          code: error.code,
          host: this.#child.pid,
          ...(call ? { call: call.label } : {}),
        },
      });
    }
    if (call !== undefined) this.#settle(call, { ok: false, error, syscalls: call.nextSeq - 1 });
    for (const other of [...this.#calls.values()]) {
      this.#settle(other, { ok: false, error, syscalls: other.nextSeq - 1 });
    }
    this.#ready.reject(
      libosError("EINTERNAL", `Cannot start isolate host: ${error.message}${this.#stderrLine()}`),
    );
    this.#ready.promise.catch(() => {});
  }

  /** The subprocess exited: calls still running learn why. */
  #onExit(): void {
    if (this.#state !== "dead") {
      const oom = /out of memory/i.test(this.#stderr);
      this.#kill(
        oom
          ? {
            code: "ENOMEM",
            message:
              `Cannot finish the tool call: its isolate ran out of memory (heap limit ${this.#limits.heapMb} MiB); its host died`,
          }
          : {
            code: "ETOOL",
            message: clipMessage(
              `Cannot finish the tool call: its isolate host exited${this.#stderrLine()}`,
            ),
          },
      );
    }
  }

  #stderrLine(): string {
    const lines = this.#stderr.trim().split("\n").filter((l) => l.trim() !== "");
    const last = lines.at(-1);
    return last === undefined ? "" : ` (${last.slice(0, 300)})`;
  }
}

function _errorData(error: unknown): ErrorData {
  if (typeof error === "object" && error !== null && "code" in error && "message" in error) {
    const code = String((error as { code: unknown }).code);
    if (_KNOWN_CODES.has(code)) {
      return {
        code: code as ErrorCode,
        message: clipMessage(String((error as { message: unknown }).message)),
      };
    }
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return { code: "EINVAL", message: clipMessage(error.message) };
  }
  return {
    code: "EINTERNAL",
    message: clipMessage(error instanceof Error ? error.message : String(error)),
  };
}
