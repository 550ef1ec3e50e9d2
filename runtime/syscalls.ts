/**
 * The primitives: the only code that performs effects for a process. Each
 * primitive, in order: resolves its target (a path against the process cwd, a
 * name against the namespace), decides (capability → allow | deny | ask; a
 * definite deny is decided before the target is touched), journals the intent
 * where the effect leaves the kernel, performs the effect through a substrate
 * provider, journals the result and audits.
 *
 * A `Syscalls` object serves one tool call of one process. Syscalls are
 * numbered within the call; when a call runs again (after a human answered,
 * a child ended, a timer fired, or after a crash) every syscall that already
 * completed answers from the journal instead of acting again.
 *
 * @module
 */
import type { Batch } from "./batch.ts";
import { canonicalJson, sha256Hex } from "./canonical_json.ts";
import { type ErrorCode, hasCode, LibosError, libosError } from "./errors.ts";
import type { Kernel } from "./kernel.ts";
import { isTerminal } from "./lifecycle.ts";
import { escapePreview } from "./preview.ts";
import type { GrantSpec } from "./schemas.ts";
import { GrantSpecSchema } from "./schemas.ts";
import type {
  Grant,
  HumanRequest,
  JournalEntry,
  ObjectRecord,
  Pid,
  ProcessRecord,
  WaitReason,
} from "./types.ts";
import { fsResource, resolvePath } from "./workspace_path.ts";
import type { DirEntry, FileStat } from "./fs_provider.ts";
import { isLive, shellResource, validateGrantSpec } from "./capability.ts";
import { classifyHost, type HostClass, normalizeHost } from "./address.ts";
import { createCheckpoint } from "./checkpoints.ts";
import { primitiveTool } from "./primitive_tools.ts";
import { computeShellView } from "./shell_view.ts";
import { ShellNetProxy, type ShellNetProxyOptions } from "./shell_proxy.ts";

/** One syscall in progress. */
interface _Call {
  /** Its number within the tool call. */
  n: number;
  name: string;
  argsHash: string;
  /** What an earlier attempt journaled (`phase` effect or wait), or null. */
  intent: Record<string, unknown> | null;
}

/** A syscall's authorization: the grant that allowed it, the approval used, whether spent. */
interface _Authz {
  action: string;
  resource: string;
  right: string;
  grant: Grant | null;
  request: HumanRequest | null;
  /** Spent by this attempt, or by an earlier one whose intent committed before a crash. */
  spent: boolean;
}

/** Largest file a read primitive returns (8 MiB). */
export const MAX_FILE_BYTES = 8 << 20;

const OID = /^o_[0-9a-f]{20}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Summary of an object, as list primitives return it. */
export interface ObjectInfo {
  oid: string;
  namespace: string;
  name: string;
  type: string;
  version: number;
  size: number;
}

/** The result of `net.fetch`: the body as text, or as base64 when it is not UTF-8. */
export interface FetchResult {
  status: number;
  headers: Record<string, string>;
  url: string;
  redirects: string[];
  text?: string;
  base64?: string;
}

/** The result of `shell.run`. */
export interface ShellRunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  confined: boolean;
}

/** The result of `proc.wait`. */
export interface WaitResult {
  pid: Pid;
  state: string;
  result: unknown;
  reason: string | null;
}

/** The syscalls of one tool call. */
export class Syscalls {
  readonly #k: Kernel;
  readonly #p: ProcessRecord;
  readonly #batch: Batch;
  readonly #callId: string;
  readonly #turn: number;
  readonly #replay: Map<number, JournalEntry>;
  #n = 0;

  constructor(
    kernel: Kernel,
    process: ProcessRecord,
    options: { batch: Batch; callId: string; turn: number; replay: Map<number, JournalEntry> },
  ) {
    this.#k = kernel;
    this.#p = process;
    this.#batch = options.batch;
    this.#callId = options.callId;
    this.#turn = options.turn;
    this.#replay = options.replay;
  }

  /** The calling process's pid. */
  get pid(): Pid {
    return this.#p.pid;
  }

  // ------------------------------------------------------------ machinery
  //
  // The engine: every primitive goes this one way.
  //   1. replay: a syscall that completed answers from the journal; one in
  //      flight at a crash is redone only when its primitive is idempotent,
  //      else it fails EUNKNOWN (its grant stays spent);
  //   2. resolve the target, then #authorize (the kernel's one Authorizer:
  //      deny is audited and thrown before the target is touched; ask raises
  //      an approval in the same batch as the intent that needed it, and
  //      parks);
  //   3. an effect that leaves the kernel (a file, a socket, a program): #effect
  //      commits ONE batch holding the intent, the spend of every grant and
  //      approval that allowed it and the audited decision, before the effect;
  //      an effect inside the kernel (objects, processes, grants) is made in
  //      the batch itself, with #allowed (spend + audit) beside it;
  //   4. #record journals the result in the call's batch, which also carries
  //      any process-table change (a forked child, a killed one).

  /**
   * Runs one syscall: answers from the journal when it already completed,
   * otherwise runs `body` and journals the result (value or error).
   */
  async #syscall<T>(
    name: string,
    args: unknown,
    options: { idempotent: boolean },
    body: (call: _Call) => Promise<T>,
  ): Promise<T> {
    const n = ++this.#n;
    const argsHash = sha256Hex(canonicalJson(_jsonSafe(args) ?? null));
    const prior = this.#replay.get(n);
    let intent: Record<string, unknown> | null = null;
    if (prior !== undefined) {
      if (prior.data["name"] !== name || prior.data["argsHash"] !== argsHash) {
        throw libosError(
          "ENONDET",
          `Cannot replay syscall ${n} of call ${this.#callId}: the journal recorded ${
            String(prior.data["name"])
          } with other arguments, the tool now made ${name}`,
          { pid: this.pid },
        );
      }
      if (prior.kind === "syscall") {
        if (prior.data["ok"] === true) return _fromJsonSafe(prior.data["value"]) as T;
        const e = prior.data["error"] as { code: ErrorCode; message: string };
        throw libosError(e.code, e.message, { pid: this.pid });
      }
      intent = prior.data;
    }
    const c: _Call = { n, name, argsHash, intent };
    if (intent?.["phase"] === "effect" && !options.idempotent) {
      const error = libosError(
        "EUNKNOWN",
        `Cannot tell whether ${name} took effect: the kernel stopped while it ran, and ${name} is not safe to repeat`,
        { pid: this.pid },
      );
      this.#record(c, { ok: false, error });
      throw error;
    }
    try {
      const value = await body(c);
      this.#record(c, { ok: true, value });
      return value;
    } catch (error) {
      if (hasCode(error, "EWAITING")) throw error;
      const e = error instanceof LibosError
        ? error
        : libosError("EINVAL", error instanceof Error ? error.message : String(error));
      this.#record(c, { ok: false, error: e });
      throw e;
    }
  }

  #record(
    c: _Call,
    outcome: { ok: true; value: unknown } | { ok: false; error: LibosError },
  ): void {
    const { name, argsHash } = c;
    const data: Record<string, unknown> = outcome.ok
      ? { name, argsHash, ok: true, value: _jsonSafe(outcome.value) ?? null }
      : { name, argsHash, ok: false, error: outcome.error.toData() };
    const entry = this.#k._journal(this.#batch, this.pid, "syscall", data, this.#where(c.n));
    this.#replay.set(c.n, entry);
  }

  #where(n: number): { turn: number; callId: string; sys: number } {
    return { turn: this.#turn, callId: this.#callId, sys: n };
  }

  /** Journals a syscall's intent (`phase` effect or wait) for replay, in the batch. */
  #journalIntent(c: _Call, phase: "effect" | "wait", data: Record<string, unknown>): void {
    const entry = this.#k._journal(
      this.#batch,
      this.pid,
      "syscall.intent",
      { name: c.name, argsHash: c.argsHash, phase, ...data },
      this.#where(c.n),
    );
    this.#replay.set(c.n, entry);
    c.intent = entry.data;
  }

  /** Whether an earlier attempt of this syscall committed its intent (and spent) before a crash. */
  #redo(c: _Call): boolean {
    return c.intent?.["phase"] === "effect";
  }

  /**
   * Commits what must be durable before an effect leaves the kernel, as one
   * batch: the intent, the spend of every grant and approval in `authz`, and
   * the audited decision (of the first). A redo after a crash (the intent was
   * committed before) spends and audits nothing again.
   */
  async #effect(
    c: _Call,
    authz: readonly _Authz[],
    data: Record<string, unknown>,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    if (this.#redo(c)) return;
    const [first] = authz;
    if (first !== undefined) this.#allowed(first, detail);
    for (const a of authz) this.#spend(a);
    this.#journalIntent(c, "effect", data);
    await this.#k._commit(this.#batch);
  }

  /** Parks the process until `wait` is over; the call runs again then. */
  #park(c: _Call, wait: WaitReason, data: Record<string, unknown>): never {
    // Every request this syscall raised stays findable: a syscall that needs
    // two approvals (the program and the paths it would see) finds both.
    const requests = _strings(c.intent?.["requests"]);
    const id = data["requestId"];
    if (typeof id === "string" && !requests.includes(id)) requests.push(id);
    this.#journalIntent(c, "wait", requests.length === 0 ? data : { ...data, requests });
    this.#k._park(this.#batch, this.#p, wait);
    throw libosError("EWAITING", `Process ${this.pid} waits for ${wait.kind}`, { pid: this.pid });
  }

  #audit(
    action: string,
    fields: {
      resource?: string | null;
      decision?: "allow" | "deny" | "ask" | null;
      grant?: Grant | null;
      detail?: Record<string, unknown>;
    } = {},
  ): void {
    this.#k._audit(this.#batch, {
      actor: `pid:${this.pid}`,
      action,
      pid: this.pid,
      resource: fields.resource ?? null,
      decision: fields.decision ?? null,
      capabilityId: fields.grant?.id ?? null,
      step: this.#p.usage.steps,
      callId: this.#callId,
      detail: fields.detail ?? {},
    });
  }

  /** Audits a denial and builds its EPERM. */
  #deny(
    action: string,
    resource: string,
    right: string,
    grant: Grant | null,
    detail: Record<string, unknown> = {},
  ): LibosError {
    this.#audit(action, {
      resource,
      decision: "deny",
      grant,
      detail: {
        right,
        reason: grant === null ? "no grant" : `grant ${grant.id} denies`,
        ...detail,
      },
    });
    return libosError(
      "EPERM",
      `Cannot ${right} '${resource}': process ${this.pid} ${
        grant === null
          ? `holds no ${resource.split(":", 1)[0]} ${right} capability for it`
          : `holds grant ${grant.id} that denies it`
      }`,
      { pid: this.pid, resource, right },
    );
  }

  /**
   * Decides a right on a resource. A deny is audited and thrown before the
   * target is touched; `ask` raises (or finds) an approval bound to the exact
   * action and parks the process until a human decides. A redo of an effect
   * whose intent was committed was decided and spent then: it is not decided
   * again (a spent one-time grant would now refuse its own effect).
   */
  #authorize(
    c: _Call,
    action: string,
    resource: string,
    right: string,
    exact: { args: unknown; preview: string; content?: string },
  ): _Authz {
    if (this.#redo(c)) {
      return { action, resource, right, grant: null, request: null, spent: true };
    }
    const k = this.#k;
    const { decision, grant } = k.authorizer.decide(this.pid, resource, right);
    if (decision === "allow") {
      return { action, resource, right, grant, request: null, spent: false };
    }
    if (decision === "deny") throw this.#deny(action, resource, right, grant);
    return this.#ask(c, action, resource, right, grant, exact);
  }

  /**
   * Asks a human to approve the exact action: answers the approval once it is
   * approved (to be spent with the effect), throws when it was denied, expired
   * or voided, and otherwise raises the request (in the batch of the intent
   * that needs it) or finds it pending, and parks the process.
   */
  #ask(
    c: _Call,
    action: string,
    resource: string,
    right: string,
    grant: Grant | null,
    exact: { args: unknown; preview: string; content?: string },
  ): _Authz {
    const hash = sha256Hex(canonicalJson({
      action,
      resource,
      right,
      args: _jsonSafe(exact.args) ?? null,
      content: exact.content ?? null,
    }));
    const r = this.#knownRequest(c, hash);
    if (r !== undefined) {
      switch (r.state) {
        case "approved":
          if (r.consumed) break;
          return { action, resource, right, grant, request: r, spent: false };
        case "denied":
          this.#audit(action, {
            resource,
            decision: "deny",
            grant,
            detail: { right, request: r.id, reason: "denied by a human" },
          });
          throw libosError(
            "EDENIED",
            `Cannot ${right} '${resource}': ${
              r.decidedBy ?? "a human"
            } denied it (request ${r.id})`,
            { pid: this.pid, resource, right },
          );
        case "expired":
          throw libosError(
            "EEXPIRED",
            `Cannot ${right} '${resource}': approval request ${r.id} expired unanswered`,
            { pid: this.pid, resource, right },
          );
        case "void":
          throw libosError(
            "EPERM",
            `Cannot ${right} '${resource}': approval request ${r.id} was voided (${
              r.answer ?? "no reason"
            })`,
            { pid: this.pid, resource, right },
          );
        case "pending":
          this.#park(c, { kind: "human", requestId: r.id }, { requestId: r.id });
      }
    }
    // The request and the intent that needs it commit in one batch: a replay
    // finds this request instead of raising a new one.
    const request = this.#newRequest(c, {
      kind: "approval",
      actionHash: hash,
      preview: `${this.pid} wants to ${right} ${resource}\n${exact.preview}`,
      resource,
      rights: [right],
      grantId: grant?.id ?? null,
    });
    this.#audit(action, {
      resource,
      decision: "ask",
      grant,
      detail: { right, request: request.id },
    });
    this.#park(c, { kind: "human", requestId: request.id }, { requestId: request.id });
  }

  /**
   * The request an earlier attempt of this syscall raised — this process's
   * own (a journal copied by an import or a fork names requests of another).
   */
  #knownRequest(c: _Call, actionHash?: string): HumanRequest | undefined {
    const ids = [c.intent?.["requestId"], ...(_strings(c.intent?.["requests"]))];
    for (const id of ids.reverse()) {
      const r = typeof id === "string" ? this.#k._human.get(id) : undefined;
      if (r?.pid !== this.pid) continue;
      if (actionHash === undefined || r.actionHash === actionHash) return r;
    }
    return undefined;
  }

  #newRequest(
    c: _Call,
    fields: Pick<
      HumanRequest,
      "kind" | "actionHash" | "preview" | "resource" | "rights" | "grantId"
    >,
  ): HumanRequest {
    const k = this.#k;
    const now = k.clock.now();
    const r: HumanRequest = {
      id: k._nextId("human", "h_", this.#batch),
      pid: this.pid,
      kind: fields.kind,
      state: "pending",
      actionHash: fields.actionHash,
      preview: escapePreview(fields.preview),
      resource: fields.resource,
      rights: fields.rights,
      callId: this.#callId,
      sys: c.n,
      grantId: fields.grantId,
      createdAt: now,
      expiresAt: k.humanTtlMs === null ? null : now + k.humanTtlMs,
      decidedAt: null,
      decidedBy: null,
      answer: null,
      scope: null,
      consumed: false,
    };
    k._saveHuman(this.#batch, r);
    this.#batch.then(() => k._armExpiry(r));
    return r;
  }

  /**
   * The one place a syscall spends: a one-time grant's use and an approval,
   * each exactly once, in the batch that commits before (or with) the effect.
   */
  #spend(authz: _Authz): void {
    if (authz.spent) return;
    authz.spent = true;
    const { grant, request } = authz;
    if (grant !== null && grant.uses !== null) {
      grant.uses -= 1;
      this.#k._saveGrant(this.#batch, grant);
    }
    if (request !== null) {
      request.consumed = true;
      this.#k._saveHuman(this.#batch, request);
    }
  }

  /** Spends and audits an allowed decision (an effect made inside the kernel's batch). */
  #allowed(authz: _Authz, detail: Record<string, unknown> = {}): void {
    const redone = authz.spent;
    this.#spend(authz);
    if (redone) return;
    this.#audit(authz.action, {
      resource: authz.resource,
      decision: "allow",
      grant: authz.grant,
      detail: authz.request === null ? detail : { ...detail, request: authz.request.id },
    });
  }

  // ------------------------------------------------------------------- fs

  /** Resolves a path; an escape is audited as a deny. */
  #path(action: string, input: unknown): string {
    if (typeof input !== "string") {
      throw libosError("EINVAL", `Cannot use path ${String(input)}: expected a string`);
    }
    try {
      return resolvePath(this.#p.cwd, input);
    } catch (error) {
      this.#audit(action, {
        resource: `fs:${escapePreview(input, { max: 200 })}`,
        decision: "deny",
        detail: { reason: error instanceof Error ? error.message : String(error) },
      });
      throw error;
    }
  }

  /**
   * Authorizes an fs right on a path, then on its real path when a symlink
   * leads elsewhere (an escape from the workspace is EPERM).
   */
  async #fsTarget(
    c: _Call,
    action: string,
    input: unknown,
    right: string,
    exact: { args: unknown; preview: string; content?: string },
  ): Promise<{ path: string; real: string; authz: _Authz; resource: string }> {
    const path = this.#path(action, input);
    const resource = fsResource(path);
    const authz = this.#authorize(c, action, resource, right, exact);
    let real: string;
    try {
      real = await this.#k.fs.realPath(path);
    } catch (error) {
      if (hasCode(error, "EPERM")) {
        this.#audit(action, {
          resource,
          decision: "deny",
          detail: { right, reason: "the real path leaves the workspace" },
        });
      }
      throw error;
    }
    if (real !== path) {
      const realResource = fsResource(real);
      const again = this.#k.authorizer.decide(this.pid, realResource, right);
      if (again.decision !== "allow") {
        this.#audit(action, {
          resource: realResource,
          decision: "deny",
          grant: again.grant,
          detail: { right, via: path, reason: "symlink target is not granted" },
        });
        throw libosError(
          "EPERM",
          `Cannot ${right} '${path}': it leads to '${real}', for which process ${this.pid} holds no allowing fs ${right} capability`,
          { pid: this.pid, resource: realResource, right },
        );
      }
    }
    return { path, real, authz, resource };
  }

  /** Reads a text file (UTF-8). */
  readText(path: string): Promise<string> {
    return this.#readAs("fs.readText", path, (bytes, checked) => {
      try {
        return decoder.decode(bytes);
      } catch {
        throw libosError("EINVAL", `Cannot read '${checked}' as text: it is not valid UTF-8`, {
          path: checked,
        });
      }
    });
  }

  /** Reads a file's bytes. */
  readBytes(path: string): Promise<Uint8Array> {
    return this.#readAs("fs.readBytes", path, (bytes) => bytes);
  }

  /**
   * Reads a file under the `read` right (one `fs.read` decision) and converts
   * its bytes; `convert` gets the path as checked, too.
   */
  #readAs<T>(
    name: string,
    path: string,
    convert: (bytes: Uint8Array, checked: string) => T,
  ): Promise<T> {
    return this.#syscall(name, { path }, { idempotent: true }, async (c) => {
      const t = await this.#fsTarget(c, "fs.read", path, "read", {
        args: { path },
        preview: `read ${path}`,
      });
      const bytes = await this.#readFile(t.real);
      this.#allowed(t.authz, { bytes: bytes.length });
      return convert(bytes, t.path);
    });
  }

  async #readFile(real: string): Promise<Uint8Array> {
    const st = await this.#k.fs.stat(real);
    if (st === null) {
      throw libosError("ENOENT", `Cannot read '${real}': no such file`, { path: real });
    }
    if (st.kind !== "file") {
      throw libosError(
        "EINVAL",
        `Cannot read '${real}': it is a ${st.kind === "dir" ? "directory" : st.kind}`,
        { path: real },
      );
    }
    if (st.size > MAX_FILE_BYTES) {
      throw libosError(
        "ELIMIT",
        `Cannot read '${real}': ${st.size} bytes is more than the ${MAX_FILE_BYTES}-byte read limit`,
        { path: real },
      );
    }
    try {
      return await this.#k.fs.readBytes(real);
    } catch (error) {
      // The provider found the path changed under it (a swapped symlink): a denial.
      if (hasCode(error, "EPERM")) {
        this.#audit("fs.read", {
          resource: fsResource(real),
          decision: "deny",
          detail: { reason: error.message },
        });
      }
      throw error;
    }
  }

  /** Writes a file (text as UTF-8), creating parent directories. */
  write(path: string, data: string | Uint8Array): Promise<{ path: string; bytes: number }> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(
        libosError("EINVAL", "Cannot write: data must be a string or Uint8Array"),
      );
    }
    const content = sha256Hex(bytes);
    const args = { path, content };
    return this.#syscall("fs.write", args, { idempotent: true }, async (c) => {
      const preview = typeof data === "string" ? data : `<${bytes.length} bytes>`;
      const t = await this.#fsTarget(c, "fs.write", path, "write", {
        args,
        preview: `write ${bytes.length} bytes to ${path} (sha256 ${
          content.slice(0, 16)
        }…):\n${preview}`,
        content,
      });
      if (bytes.length > MAX_FILE_BYTES) {
        throw libosError(
          "ELIMIT",
          `Cannot write '${t.path}': ${bytes.length} bytes is more than the ${MAX_FILE_BYTES}-byte write limit`,
          { path: t.path },
        );
      }
      await this.#writeFile(c, t, bytes, content);
      return { path: t.path, bytes: bytes.length };
    });
  }

  /**
   * Writes a file's bytes as an effect. The intent records the file's state
   * before the write (kind, size, mtime, or absent); a write found in flight
   * after a crash is settled from evidence: a file that already holds the
   * intended bytes completes without being touched; one still in its prior
   * state is written; anything else is an unknown outcome (EUNKNOWN).
   */
  async #writeFile(
    c: _Call,
    t: { path: string; real: string; authz: _Authz },
    bytes: Uint8Array,
    content: string,
    also: readonly _Authz[] = [],
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    const fs = this.#k.fs;
    if (this.#redo(c)) {
      const now = await fs.stat(t.real);
      if (now?.kind === "file" && now.size === bytes.length) {
        if (sha256Hex(await fs.readBytes(t.real)) === content) {
          return this.#settled(c, t.authz, "evidence");
        }
      }
      const before = c.intent?.["before"] as _Before | null | undefined;
      // (An intent from before evidence was recorded is simply redone.)
      if (before !== undefined && !_sameState(before, now)) {
        throw libosError(
          "EUNKNOWN",
          `Cannot tell whether ${c.name} of '${t.path}' took effect: the kernel stopped while it ran, and the file now holds neither its earlier content nor the intended bytes`,
          { pid: this.pid, path: t.path },
        );
      }
      this.#settled(c, t.authz, "redo");
      await fs.writeBytes(t.real, bytes, { createParents: true });
      return;
    }
    const before = _stateOf(await fs.stat(t.real));
    await this.#effect(c, [t.authz, ...also], { path: t.real, before }, {
      bytes: bytes.length,
      sha256: content,
      ...detail,
    });
    await fs.writeBytes(t.real, bytes, { createParents: true });
  }

  /** Audits how an effect found in flight after a crash was settled. */
  #settled(c: _Call, authz: _Authz, how: "evidence" | "redo"): void {
    this.#audit(authz.action, {
      resource: authz.resource,
      decision: "allow",
      detail: { settled: how, syscall: c.name },
    });
  }

  /** Lists a directory. */
  list(path: string): Promise<DirEntry[]> {
    return this.#syscall("fs.list", { path }, { idempotent: true }, async (c) => {
      const t = await this.#fsTarget(c, "fs.list", path, "list", {
        args: { path },
        preview: `list ${path}`,
      });
      const entries = await this.#k.fs.list(t.real);
      this.#allowed(t.authz, { entries: entries.length });
      return entries;
    });
  }

  /** Stats a path (null when it does not exist). Needs `read` or `list`. */
  stat(path: string): Promise<FileStat | null> {
    return this.#syscall("fs.stat", { path }, { idempotent: true }, async (c) => {
      const t = await this.#fsTarget(c, "fs.stat", path, "read", {
        args: { path },
        preview: `stat ${path}`,
      });
      const st = await this.#k.fs.stat(t.real);
      this.#allowed(t.authz);
      return st;
    });
  }

  /** Deletes a file or an empty directory (needs `delete`, not `write`). */
  delete(path: string): Promise<{ path: string }> {
    return this.#syscall("fs.delete", { path }, { idempotent: true }, async (c) => {
      const t = await this.#fsTarget(c, "fs.delete", path, "delete", {
        args: { path },
        preview: `delete ${path}`,
      });
      const fs = this.#k.fs;
      if (this.#redo(c)) {
        // Found in flight after a crash: gone and there before means the
        // first attempt removed it (evidence); never there stays ENOENT.
        const existed = c.intent?.["existed"];
        if (existed !== false && (await fs.stat(t.real)) === null) {
          this.#settled(c, t.authz, "evidence");
          return { path: t.path };
        }
      } else {
        const existed = (await fs.stat(t.real)) !== null;
        await this.#effect(c, [t.authz], { path: t.real, existed });
      }
      await fs.remove(t.real);
      return { path: t.path };
    });
  }

  /** Makes a directory and its parents (needs `write`). */
  mkdir(path: string): Promise<{ path: string }> {
    return this.#syscall("fs.mkdir", { path }, { idempotent: true }, async (c) => {
      const t = await this.#fsTarget(c, "fs.mkdir", path, "write", {
        args: { path },
        preview: `make directory ${path}`,
      });
      if (this.#redo(c) && (await this.#k.fs.stat(t.real))?.kind === "dir") {
        this.#settled(c, t.authz, "evidence");
        return { path: t.path };
      }
      await this.#effect(c, [t.authz], { path: t.real });
      await this.#k.fs.mkdir(t.real, { recursive: true });
      return { path: t.path };
    });
  }

  // ------------------------------------------------------------ objects

  /** Splits a ref into namespace and name (or an oid). */
  #ref(ref: unknown): { oid: string } | { namespace: string; name: string } {
    if (typeof ref !== "string" || ref.length === 0 || ref.length > 512 || ref.includes("\u0000")) {
      throw libosError(
        "EINVAL",
        `Cannot use object ref ${JSON.stringify(ref)}: expected an oid, 'namespace/name' or a name`,
      );
    }
    if (OID.test(ref)) return { oid: ref };
    const i = ref.lastIndexOf("/");
    if (i < 0) return { namespace: `proc/${this.pid}`, name: ref };
    return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
  }

  /** Resolves a ref and authorizes `right` on it before revealing anything. */
  #object(
    c: _Call,
    action: string,
    ref: unknown,
    right: string,
    args: unknown,
  ): { object: ObjectRecord; authz: _Authz; resource: string } {
    const r = this.#ref(ref);
    if ("oid" in r) {
      // An oid names no namespace: a missing object and one the process may
      // not touch fail with the same words, so an oid reveals nothing.
      const hidden = () =>
        libosError(
          "EPERM",
          `Cannot ${right} object '${r.oid}': process ${this.pid} holds no obj ${right} capability for an object with that id`,
          { pid: this.pid, right },
        );
      const o = this.#k.objects.get(r.oid);
      if (o === undefined) {
        this.#audit(action, {
          resource: `obj:${r.oid}`,
          decision: "deny",
          detail: { right, reason: "no such object, or no grant for it" },
        });
        throw hidden();
      }
      const resource = `obj:${o.namespace}/${o.name}`;
      try {
        const authz = this.#authorize(c, action, resource, right, {
          args,
          preview: `${right} object ${o.namespace}/${o.name}`,
        });
        return { object: o, resource, authz };
      } catch (error) {
        throw hasCode(error, "EPERM") ? hidden() : error;
      }
    }
    const resource = `obj:${r.namespace}/${r.name}`;
    const authz = this.#authorize(c, action, resource, right, {
      args,
      preview: `${right} object ${r.namespace}/${r.name}`,
    });
    const o = this.#k.objects.find(r.namespace, r.name);
    if (o === undefined) {
      throw libosError(
        "ENOENT",
        `Cannot ${right} object '${r.namespace}/${r.name}': no such object`,
        { pid: this.pid },
      );
    }
    return { object: o, authz, resource };
  }

  /** Creates an object (its name must be free in the namespace). */
  create(
    input: { name: string; type: string; payload: unknown; namespace?: string },
  ): Promise<ObjectInfo> {
    return this.#syscall("obj.create", input, { idempotent: false }, (c) => {
      const namespace = input.namespace ?? `proc/${this.pid}`;
      _checkName(input.name);
      const resource = `obj:${namespace}/${input.name}`;
      const authz = this.#authorize(c, "obj.create", resource, "write", {
        args: input,
        preview: `create ${input.type} object ${namespace}/${input.name}`,
      });
      if (this.#k.objects.find(namespace, input.name) !== undefined) {
        throw libosError(
          "EEXIST",
          `Cannot create object '${namespace}/${input.name}': the name is taken in ${namespace}`,
          { pid: this.pid },
        );
      }
      const o = this.#k._putObject(this.#batch, {
        namespace,
        name: input.name,
        type: input.type,
        payload: input.payload,
        provenance: this.#provenance(),
      });
      this.#allowed(authz, { oid: o.oid, type: o.type, size: o.size });
      return Promise.resolve(_info(o));
    });
  }

  /** Reads an object's latest version. */
  read(ref: string): Promise<ObjectRecord> {
    return this.#syscall("obj.read", { ref }, { idempotent: true }, (c) => {
      const { object, authz } = this.#object(c, "obj.read", ref, "read", { ref });
      this.#allowed(authz, { oid: object.oid, version: object.version });
      return Promise.resolve(structuredClone(object));
    });
  }

  /** Writes a new version of an object (validated by its type). */
  writeObject(ref: string, payload: unknown): Promise<ObjectInfo> {
    return this.#syscall("obj.write", { ref, payload }, { idempotent: false }, (c) => {
      const { object, authz } = this.#object(c, "obj.write", ref, "write", {
        ref,
        payload,
      });
      const o = this.#k._putObject(this.#batch, {
        namespace: object.namespace,
        name: object.name,
        type: object.type,
        payload,
        provenance: this.#provenance(),
        oid: object.oid,
      });
      this.#allowed(authz, { oid: o.oid, version: o.version, size: o.size });
      return Promise.resolve(_info(o));
    });
  }

  /** Lists a namespace (own by default; another needs `ns:<namespace>` list). */
  listObjects(namespace?: string): Promise<ObjectInfo[]> {
    const ns = namespace ?? `proc/${this.pid}`;
    return this.#syscall("obj.list", { namespace: ns }, { idempotent: true }, (c) => {
      const resource = `ns:${ns}`;
      const authz = this.#authorize(c, "obj.list", resource, "list", {
        args: { namespace: ns },
        preview: `list namespace ${ns}`,
      });
      const list = this.#k.objects.list(ns).map(_info);
      this.#allowed(authz, { count: list.length });
      return Promise.resolve(list);
    });
  }

  /** Links one object to another (`link` on the source, `read` on the target). */
  link(from: string, rel: string, to: string): Promise<ObjectInfo> {
    return this.#syscall("obj.link", { from, rel, to }, { idempotent: false }, (c) => {
      if (typeof rel !== "string" || !/^[a-z][a-z0-9_.-]{0,63}$/.test(rel)) {
        throw libosError(
          "EINVAL",
          `Cannot link with relation ${JSON.stringify(rel)}: expected a lower-case name`,
        );
      }
      const src = this.#object(c, "obj.link", from, "link", { from, rel, to });
      const dst = this.#object(c, "obj.link", to, "read", { from, rel, to });
      const links = [
        ...src.object.links.filter((l) => !(l.rel === rel && l.oid === dst.object.oid)),
        { rel, oid: dst.object.oid },
      ];
      const o = this.#k._putObject(this.#batch, {
        namespace: src.object.namespace,
        name: src.object.name,
        type: src.object.type,
        payload: src.object.payload,
        provenance: this.#provenance(),
        oid: src.object.oid,
        links,
      });
      this.#allowed(src.authz, { rel, to: dst.object.oid });
      this.#spend(dst.authz);
      return Promise.resolve(_info(o));
    });
  }

  /** Deletes an object (its versions stay in the store). */
  deleteObject(ref: string): Promise<{ oid: string }> {
    return this.#syscall("obj.delete", { ref }, { idempotent: false }, (c) => {
      const { object, authz } = this.#object(c, "obj.delete", ref, "delete", {
        ref,
      });
      this.#k.objects.delete(object.oid);
      this.#batch.add({ kind: "object.delete", oid: object.oid });
      this.#allowed(authz, { oid: object.oid });
      return Promise.resolve({ oid: object.oid });
    });
  }

  /**
   * Copies a file into an object without passing it through the model:
   * the result names the object, never the content.
   */
  fileToObject(
    path: string,
    name: string,
    type = "file_snapshot",
  ): Promise<ObjectInfo & { sha256: string }> {
    const args = { path, name, type };
    return this.#syscall("obj.fromFile", args, { idempotent: false }, async (c) => {
      _checkName(name);
      const namespace = `proc/${this.pid}`;
      const t = await this.#fsTarget(c, "obj.fromFile", path, "read", {
        args,
        preview: `copy ${path} into object ${name}`,
      });
      const bytes = await this.#readFile(t.real);
      const sha = sha256Hex(bytes);
      const payload = _filePayload(type, t.path, bytes, sha);
      const prev = this.#k.objects.find(namespace, name);
      if (prev !== undefined && prev.type !== type) {
        throw libosError(
          "EEXIST",
          `Cannot copy '${t.path}' into object '${name}': it exists with type ${prev.type}`,
          { pid: this.pid },
        );
      }
      const o = this.#k._putObject(this.#batch, {
        namespace,
        name,
        type,
        payload,
        provenance: this.#provenance(),
      });
      this.#allowed(t.authz, {
        oid: o.oid,
        bytes: bytes.length,
        sha256: sha,
      });
      return { ..._info(o), sha256: sha };
    });
  }

  /** Writes an object's content to a file without passing it through the model. */
  objectToFile(
    ref: string,
    path: string,
  ): Promise<{ path: string; bytes: number; sha256: string }> {
    const args = { ref, path };
    return this.#syscall("obj.toFile", args, { idempotent: true }, async (c) => {
      const src = this.#object(c, "obj.toFile", ref, "read", args);
      const bytes = _objectBytes(src.object);
      const sha = sha256Hex(bytes);
      const t = await this.#fsTarget(c, "obj.toFile", path, "write", {
        args,
        preview:
          `write object ${src.object.namespace}/${src.object.name} (${bytes.length} bytes) to ${path}`,
        content: sha,
      });
      await this.#writeFile(c, t, bytes, sha, [src.authz], { oid: src.object.oid });
      return { path: t.path, bytes: bytes.length, sha256: sha };
    });
  }

  #provenance(): { pid: Pid; step: number } {
    return { pid: this.pid, step: this.#p.usage.steps };
  }

  // -------------------------------------------------------------- human

  /** Asks a human a question and waits for the answer. */
  ask(question: string, options: { channel?: string } = {}): Promise<{ answer: string }> {
    const channel = options.channel ?? "operator";
    return this.#syscall("human.ask", { question, channel }, { idempotent: true }, (c) => {
      if (typeof question !== "string" || question.length === 0) {
        throw libosError("EINVAL", "Cannot ask: 'question' must be a non-empty string");
      }
      const resource = `human:${channel}`;
      const authz = this.#authorize(c, "human.ask", resource, "ask", {
        args: { question, channel },
        preview: question,
      });
      const r = this.#knownRequest(c);
      if (r !== undefined) {
        switch (r.state) {
          case "answered":
            this.#allowed(authz, { request: r.id });
            return Promise.resolve({ answer: r.answer ?? "" });
          case "denied":
            throw libosError(
              "EDENIED",
              `Cannot get an answer to request ${r.id}: ${
                r.decidedBy ?? "the human"
              } declined to answer`,
              { pid: this.pid },
            );
          case "expired":
            throw libosError(
              "EEXPIRED",
              `Cannot get an answer to request ${r.id}: it expired unanswered`,
              { pid: this.pid },
            );
          case "void":
            throw libosError(
              "ECANCELED",
              `Cannot get an answer to request ${r.id}: it was voided (${r.answer ?? ""})`,
              { pid: this.pid },
            );
          default:
            this.#park(c, { kind: "human", requestId: r.id }, {
              requestId: r.id,
            });
        }
      }
      const request = this.#newRequest(c, {
        kind: "question",
        actionHash: null,
        preview: question,
        resource: null,
        rights: [],
        grantId: authz.grant?.id ?? null,
      });
      this.#audit("human.ask", {
        resource,
        decision: "allow",
        grant: authz.grant,
        detail: { request: request.id },
      });
      this.#park(c, { kind: "human", requestId: request.id }, {
        requestId: request.id,
      });
    });
  }

  /** Tells a human something (recorded in the audit log and the event stream). */
  notify(message: string, options: { channel?: string } = {}): Promise<{ delivered: true }> {
    const channel = options.channel ?? "operator";
    return this.#syscall("human.notify", { message, channel }, { idempotent: true }, (c) => {
      if (typeof message !== "string") {
        throw libosError("EINVAL", "Cannot notify: 'message' must be a string");
      }
      const resource = `human:${channel}`;
      const authz = this.#authorize(c, "human.notify", resource, "notify", {
        args: { message, channel },
        preview: message,
      });
      this.#allowed(authz, {
        message: escapePreview(message, { max: 2000 }),
      });
      return Promise.resolve({ delivered: true as const });
    });
  }

  /**
   * Asks a human for a capability. Approved `once`, it is a one-use grant;
   * `always`, a standing one.
   */
  requestPermission(
    resource: string,
    rights: string[],
    reason: string,
  ): Promise<{ granted: true; grantId: string }> {
    const args = { resource, rights, reason };
    return this.#syscall("human.requestPermission", args, { idempotent: true }, (c) => {
      const spec = validateGrantSpec(_parseSpec({ resource, rights }), this.#k.clock.now());
      const authz = this.#authorize(c, "human.requestPermission", "human:operator", "ask", {
        args,
        preview: reason,
      });
      const r = this.#knownRequest(c);
      if (r !== undefined) {
        switch (r.state) {
          case "approved": {
            const g = this.#k.grants.of(this.pid).find((x) => x.issuedBy === `human:${r.id}`);
            this.#allowed(authz, {
              request: r.id,
              grant: g?.id ?? null,
            });
            return Promise.resolve({ granted: true as const, grantId: g?.id ?? "" });
          }
          case "denied":
            throw libosError(
              "EDENIED",
              `Cannot get '${spec.resource}' ${spec.rights.join(",")}: ${
                r.decidedBy ?? "the human"
              } denied the request ${r.id}`,
              { pid: this.pid, resource: spec.resource },
            );
          case "expired":
            throw libosError(
              "EEXPIRED",
              `Cannot get '${spec.resource}': request ${r.id} expired unanswered`,
              { pid: this.pid },
            );
          case "void":
            throw libosError(
              "ECANCELED",
              `Cannot get '${spec.resource}': request ${r.id} was voided`,
              { pid: this.pid },
            );
          default:
            this.#park(c, { kind: "human", requestId: r.id }, {
              requestId: r.id,
            });
        }
      }
      const request = this.#newRequest(c, {
        kind: "permission",
        actionHash: null,
        preview: `${this.pid} asks for ${spec.resource} ${spec.rights.join(",")}: ${reason}`,
        resource: spec.resource,
        rights: spec.rights,
        grantId: null,
      });
      this.#audit("human.requestPermission", {
        resource: spec.resource,
        decision: "ask",
        detail: { request: request.id, rights: spec.rights },
      });
      this.#park(c, { kind: "human", requestId: request.id }, {
        requestId: request.id,
      });
    });
  }

  // ------------------------------------------------------------ process

  /** Spawns a child from an image (default: the caller's). */
  spawn(
    input: { goal: string; image?: string; capabilities?: GrantSpec[] },
  ): Promise<{ pid: Pid }> {
    return this.#syscall("proc.spawn", input, { idempotent: false }, async (c) => {
      const authz = this.#authorize(c, "proc.spawn", "proc", "spawn", {
        args: input,
        preview: `spawn a child (${input.image ?? this.#p.imageId}) to: ${input.goal}`,
      });
      const child = await this.#k._spawn(
        {
          image: input.image ?? this.#p.imageId,
          goal: input.goal,
          capabilities: (input.capabilities ?? []).map(_parseSpec),
        },
        { actor: `pid:${this.pid}`, parent: this.#p, forkOf: null, batch: this.#batch },
      );
      this.#allowed(authz, { child: child.pid });
      return { pid: child.pid };
    });
  }

  /** Forks the caller: same image, cwd and tools; only named grants; named objects read-only. */
  fork(
    input: { goal: string; capabilities?: GrantSpec[]; objects?: string[] },
  ): Promise<{ pid: Pid }> {
    return this.#syscall("proc.fork", input, { idempotent: false }, async (c) => {
      const authz = this.#authorize(c, "proc.fork", "proc", "fork", {
        args: input,
        preview: `fork to: ${input.goal}`,
      });
      // The child is created in this call's batch: it commits with the
      // syscall's result, so a replay returns this child instead of forking again.
      const child = await this.#k._fork(this.#p, {
        goal: input.goal,
        capabilities: (input.capabilities ?? []).map(_parseSpec),
        objects: input.objects ?? [],
      }, { actor: `pid:${this.pid}`, batch: this.#batch });
      this.#allowed(authz, { child: child.pid });
      return { pid: child.pid };
    });
  }

  /** Waits for a child to end; returns its state and result. */
  wait(pid: Pid): Promise<WaitResult> {
    return this.#syscall("proc.wait", { pid }, { idempotent: true }, (c) => {
      const child = this.#child("wait for", pid);
      if (isTerminal(child.state)) {
        this.#audit("proc.wait", {
          resource: "proc",
          decision: "allow",
          detail: { child: pid, state: child.state },
        });
        return Promise.resolve({
          pid,
          state: child.state,
          result: child.result,
          reason: child.reason,
        });
      }
      this.#park(c, { kind: "child", pid }, { child: pid });
    });
  }

  /** Signals a descendant. */
  signal(
    pid: Pid,
    signal: "pause" | "resume" | "cancel" | "kill",
  ): Promise<{ pid: Pid; state: string }> {
    return this.#syscall("proc.signal", { pid, signal }, { idempotent: false }, (c) => {
      const authz = this.#authorize(c, "proc.signal", "proc", "signal", {
        args: { pid, signal },
        preview: `${signal} ${pid}`,
      });
      this.#child("signal", pid);
      this.#allowed(authz, { target: pid, signal });
      // In this call's batch: the signal lands with the syscall's result.
      const after = this.#k._signal(this.#batch, pid, signal, `pid:${this.pid}`);
      return Promise.resolve({ pid, state: after.state });
    });
  }

  #child(verb: string, pid: unknown): ProcessRecord {
    const child = typeof pid === "string" ? this.#k._procs.get(pid) : undefined;
    if (child === undefined || !child.lineage.includes(this.pid)) {
      throw libosError(
        "ENOENT",
        `Cannot ${verb} process '${String(pid)}': it is not a descendant of ${this.pid}`,
        { pid: this.pid },
      );
    }
    return child;
  }

  /** Ends the calling process with a result. */
  exit(result: unknown): Promise<{ exited: true }> {
    return this.#syscall("proc.exit", { result }, { idempotent: true }, () => {
      this.#p.result = _jsonSafe(result) ?? null;
      this.#k._transition(this.#batch, this.#p, "exited", {
        reason: "exit",
        actor: `pid:${this.pid}`,
      });
      return Promise.resolve({ exited: true as const });
    });
  }

  /** The working directory. */
  cwd(): Promise<{ cwd: string }> {
    return this.#syscall(
      "proc.cwd",
      {},
      { idempotent: true },
      () => Promise.resolve({ cwd: this.#p.cwd }),
    );
  }

  /** Changes the working directory (it never leaves the workspace). */
  chdir(path: string): Promise<{ cwd: string }> {
    return this.#syscall("proc.chdir", { path }, { idempotent: true }, () => {
      const next = this.#path("proc.chdir", path);
      this.#p.cwd = next;
      this.#k._saveProcess(this.#batch, this.#p);
      this.#audit("proc.chdir", { detail: { cwd: next } });
      return Promise.resolve({ cwd: next });
    });
  }

  // ------------------------------------------------------- net and shell

  /**
   * Fetches a URL under a `net:<host>[:port]` grant. Every hop (redirects
   * too) and every address a name resolves to is decided before anything
   * is connected; a loopback, private or link-local address in any spelling
   * needs an explicit grant naming it (no wildcard).
   */
  fetch(
    request: { url: string; method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<FetchResult> {
    const method = (request.method ?? "GET").toUpperCase();
    const args = {
      url: request.url,
      method,
      headers: request.headers ?? {},
      body: request.body ?? null,
    };
    const idempotent = method === "GET" || method === "HEAD";
    return this.#syscall("net.fetch", args, { idempotent }, async (c) => {
      const k = this.#k;
      if (k.net === null) {
        throw libosError("EINVAL", "Cannot fetch: this kernel has no network provider");
      }
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        throw libosError(
          "EINVAL",
          `Cannot fetch '${escapePreview(String(request.url), { max: 200 })}': not an absolute URL`,
        );
      }
      const port = _port;
      // The first hop is decided by the engine like any syscall (deny, ask,
      // uses), and spent and audited before anything is connected.
      const resource = `net:${normalizeHost(url.hostname)}:${port(url)}`;
      const authz = this.#authorize(c, "net.fetch", resource, "fetch", {
        args,
        preview: `${method} ${url.href}${
          request.body === undefined ? "" : `\n${String(request.body)}`
        }`,
      });
      const literal = classifyHost(url.hostname);
      if (!this.#redo(c)) this.#special(url, literal, port(url));
      await this.#effect(c, [authz], { url: url.href }, { url: url.href, method });
      let hops = 0;
      const authorize = (hop: URL, address: HostClass) => {
        // A hop's host: the first was decided above; each redirect is a
        // request of its own. An address a name resolved to: a public one is
        // covered by the name's decision, a special one needs a grant naming it.
        if (_isHostCheck(hop, address)) {
          if (hops++ > 0) this.#netRequest(hop, address, { redirect: hops - 1 });
        } else this.#special(hop, address, _port(hop));
      };
      const res = await k.net.fetch({
        url: url.href,
        method,
        ...(request.headers === undefined ? {} : { headers: request.headers }),
        ...(request.body === undefined ? {} : { body: request.body }),
      }, { authorize });
      let text: string | null = null;
      try {
        text = decoder.decode(res.body);
      } catch {
        text = null;
      }
      return {
        status: res.status,
        headers: res.headers,
        url: res.url,
        redirects: res.redirects,
        ...(text === null ? { base64: _b64(res.body) } : { text }),
      };
    });
  }

  /**
   * Decides one network request that is not the syscall's own first hop (a
   * fetch's redirect, a sandboxed program's connection through the kernel's
   * proxy): `net:<host>:<port>` must be allowed outright (no human can be
   * asked mid-flight), a special literal address needs a grant naming it;
   * the decision is audited and a one-time grant spent, as its own request.
   */
  #netRequest(hop: URL, address: HostClass, detail: Record<string, unknown>): void {
    const target = `net:${normalizeHost(hop.hostname)}:${_port(hop)}`;
    const d = this.#k.authorizer.decide(this.pid, target, "fetch");
    if (d.decision !== "allow") {
      throw this.#deny("net.fetch", target, "fetch", d.grant, {
        url: hop.href,
        ...detail,
        ...(d.decision === "ask"
          ? { reason: "a request made in flight cannot wait for a human" }
          : {}),
      });
    }
    this.#special(hop, address, _port(hop));
    this.#allowed(
      {
        action: "net.fetch",
        resource: target,
        right: "fetch",
        grant: d.grant,
        request: null,
        spent: false,
      },
      { url: hop.href, ...detail },
    );
  }

  /**
   * A loopback, private, link-local or otherwise special address is reached
   * only under an explicit grant naming it (no wildcard covers one); refused
   * with EPERM and audited otherwise.
   */
  #special(hop: URL, address: HostClass, port: string): void {
    if (address.kind === "name" || address.kind === "public" || address.address === null) return;
    const target = `net:${address.address}:${port}`;
    const d = this.#k.authorizer.decide(this.pid, target, "fetch");
    if (this.#k.authorizer.explicit(d)) return;
    this.#audit("net.fetch", {
      resource: target,
      decision: "deny",
      grant: d.grant,
      detail: {
        url: hop.href,
        address: address.address,
        kind: address.kind,
        reason: "a special address needs an explicit grant naming it",
      },
    });
    throw libosError(
      "EPERM",
      `Cannot fetch '${hop.href}': ${address.address} is a ${address.kind} address, and process ${this.pid} holds no explicit net fetch capability for ${target}`,
      { pid: this.pid, resource: target, right: "fetch" },
    );
  }

  /**
   * Runs a program (argv, no shell) under a `shell:<program> <args>` grant,
   * in the process cwd. The program sees the cwd subtree exactly as the
   * process's fs grants show it (see runtime/shell_view.ts: deny and ungranted
   * paths hidden, read-only where only read is held); where part of it is
   * under an `ask` grant the run needs a human's approval naming the program
   * and those paths, and a one-time grant there is spent per run. It never
   * gets the host network: with a live `net:` grant it reaches the network
   * through the kernel's proxy, which decides, audits and spends each
   * connection as a request of its own.
   */
  runShell(argv: string[], options: { timeoutMs?: number } = {}): Promise<ShellRunResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const args = { argv, timeoutMs };
    return this.#syscall("shell.run", args, { idempotent: false }, async (c) => {
      const k = this.#k;
      if (
        !Array.isArray(argv) || argv.length === 0 ||
        argv.some((a) => typeof a !== "string" || a.includes("\u0000"))
      ) {
        throw libosError(
          "EINVAL",
          "Cannot run a program: argv must be a non-empty list of strings without NUL bytes",
        );
      }
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
        throw libosError(
          "EINVAL",
          `Cannot run '${argv[0]}': timeoutMs must be 1 to 600,000, got ${timeoutMs}`,
        );
      }
      const resource = shellResource(argv[0]!, argv.slice(1));
      const shown = argv.map((a) => JSON.stringify(a)).join(" ");
      const authz = this.#authorize(c, "shell.run", resource, "exec", {
        args,
        preview: `run ${shown} in /${this.#p.cwd}`,
      });
      const shell = k.shell;
      if (shell === null) {
        throw libosError("EINVAL", "Cannot run a program: this kernel has no shell provider");
      }
      const real = await k.fs.realPath(this.#p.cwd);
      const decide = (r: string, right: "read" | "write") =>
        k.authorizer.decide(this.pid, r, right);
      // No program runs where the process may not read at all.
      const here = decide(fsResource(real), "read");
      if (here.decision === "deny") {
        throw this.#deny("shell.run", fsResource(real), "read", here.grant, {
          reason: "no fs read capability on the working directory",
        });
      }
      const workspace = shell.workspace;
      let view = await computeShellView({ workspace, cwd: real, decide });
      // Parts of the subtree under an ask or a one-time grant: the run goes
      // through those grants (one approval naming the program and the paths;
      // a use spent per run), or it does not happen.
      const through: _Authz[] = [];
      if (view.gating.length > 0) {
        const asks = view.gating.filter((g) => g.reason === "ask");
        if (asks.length > 0) {
          const first = k.grants.get(asks[0]!.grantId) ?? null;
          through.push(this.#ask(c, "shell.run", asks[0]!.resource, "read", first, {
            args: { argv, grants: asks.map((g) => g.grantId) },
            preview: `run ${shown} in /${real}, which would see ${
              asks.map((g) => `${g.resource} (grant ${g.grantId})`).join(", ")
            }`,
          }));
        }
        for (const g of view.gating) {
          const grant = k.grants.get(g.grantId) ?? null;
          if (g.reason !== "uses" || grant === null) continue;
          through.push({
            action: "shell.run",
            resource: g.resource,
            right: "read",
            grant,
            request: null,
            spent: false,
          });
        }
        view = await computeShellView({
          workspace,
          cwd: real,
          decide,
          granted: new Set(view.gating.map((g) => g.grantId)),
        });
      }
      const network = k.net !== null &&
        k.grants.of(this.pid).some((g) =>
          g.effect === "allow" && g.resource.startsWith("net:") && g.rights.includes("fetch") &&
          isLive(g, k.clock.now())
        );
      await this.#effect(c, [authz, ...through], { cwd: real }, {
        network,
        view: view.walked,
        through: through.map((a) => a.grant?.id ?? null),
      });
      await using proxy = network
        ? await ShellNetProxy.start({ authorize: this.#proxied() })
        : null;
      const r = await shell.run({
        argv,
        cwd: real,
        view: view.entries,
        proxy: proxy === null ? null : { socketPath: proxy.socketPath },
        timeoutMs,
      });
      return {
        code: r.code,
        signal: r.signal,
        stdout: new TextDecoder().decode(r.stdout),
        stderr: new TextDecoder().decode(r.stderr),
        truncated: r.truncated,
        timedOut: r.timedOut,
        confined: r.confined,
      };
    });
  }

  /**
   * The kernel's side of a program's proxy: each connection is a network
   * request of the process's own, decided, audited and spent (and committed)
   * before the proxy connects; the address connected is the one decided.
   */
  #proxied(): ShellNetProxyOptions["authorize"] {
    return async (target, { signal }) => {
      const net = this.#k.net;
      const host = target.host.includes(":") ? `[${target.host}]` : target.host;
      try {
        if (net === null) throw libosError("EPERM", "this kernel has no network provider");
        const url = new URL(`http://${host}:${target.port}/`);
        const address = await net.resolve(url, {
          signal,
          authorize: (hop, a) =>
            _isHostCheck(hop, a)
              ? this.#netRequest(hop, a, { via: "shell" })
              : this.#special(hop, a, _port(hop)),
        });
        await this.#k._commit(this.#batch);
        return { ok: true, address };
      } catch (error) {
        await this.#k._commit(this.#batch);
        return { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    };
  }

  // ---------------------------------------------------------- JIT tools

  /**
   * Checks a tool the agent wrote: static check, type-check, its tests in an
   * isolate against a mock `sys`. Answers `{candidate, accepted, …}`; the
   * report of a refused proposal comes back to the model. The proposal is
   * journaled, so a replay never re-runs its tests.
   */
  proposeTool(source: string, tests: unknown[] = []): Promise<Record<string, unknown>> {
    const args = { source, tests };
    return this.#syscall("tool.propose", args, { idempotent: true }, async () => {
      const host = this.#k.toolHost;
      if (host?.propose === undefined) {
        throw libosError(
          "EINVAL",
          "Cannot propose a tool: this kernel has no sandbox to test it in",
        );
      }
      const r = await host.propose(this.pid, { source, tests });
      this.#audit("tool.propose", {
        detail: {
          candidate: r.candidate,
          accepted: r.ok,
          ...(r.ok ? { name: r.name } : { stage: r.stage }),
        },
      });
      if (!r.ok) {
        return { candidate: r.candidate, accepted: false, stage: r.stage, report: r.report };
      }
      const known = this.#p.jitTools.find((t) => t.hash === r.candidate);
      if (known === undefined) {
        this.#p.jitTools.push({
          name: r.name,
          hash: r.candidate,
          source,
          description: r.description,
          inputSchema: r.inputSchema,
          proposedBy: this.pid,
          step: this.#p.usage.steps,
          registered: false,
        });
        this.#k._saveProcess(this.#batch, this.#p);
      }
      return { candidate: r.candidate, accepted: true, name: r.name, tests: r.tests };
    });
  }

  /** Puts an accepted proposal into this process's tool table (needs `tool` register). */
  registerTool(candidate: string): Promise<{ name: string; candidate: string }> {
    return this.#syscall("tool.register", { candidate }, { idempotent: true }, (c) => {
      const authz = this.#authorize(c, "tool.register", "tool", "register", {
        args: { candidate },
        preview: `register tool ${candidate}`,
      });
      const t = this.#p.jitTools.find((x) => x.hash === candidate);
      if (t === undefined) {
        throw libosError(
          "ENOENT",
          `Cannot register tool '${candidate}': process ${this.pid} has no accepted proposal with that hash`,
          { pid: this.pid },
        );
      }
      const taken = primitiveTool(t.name) !== undefined ||
        this.#k.toolHost?.tool(t.name) !== undefined ||
        this.#p.jitTools.some((x) => x.registered && x.name === t.name && x.hash !== t.hash);
      if (taken) {
        throw libosError(
          "EEXIST",
          `Cannot register tool '${t.name}': the name is taken in process ${this.pid}'s tool table`,
          { pid: this.pid },
        );
      }
      t.registered = true;
      if (!this.#p.tools.includes(t.name)) this.#p.tools.push(t.name);
      this.#k._saveProcess(this.#batch, this.#p);
      this.#allowed(authz, {
        name: t.name,
        candidate,
        proposedBy: t.proposedBy,
        step: t.step,
      });
      return Promise.resolve({ name: t.name, candidate });
    });
  }

  // --------------------------------------------------------- checkpoint

  /**
   * Checkpoints the calling process (with `subtree`, its descendants too).
   * Answers `{checkpoint, restored: false}`; after that checkpoint is
   * restored, the same call answers `{checkpoint, restored: true}`.
   */
  checkpoint(
    reason?: string,
    options: { subtree?: boolean } = {},
  ): Promise<{ checkpoint: string; restored: boolean }> {
    const args = { reason: reason ?? null, subtree: options.subtree === true };
    const argsHash = sha256Hex(canonicalJson(args));
    return this.#syscall("checkpoint.create", args, { idempotent: false }, async (c) => {
      const authz = this.#authorize(c, "checkpoint.create", "checkpoint", "create", {
        args,
        preview: `checkpoint ${this.pid}${reason ? `: ${reason}` : ""}`,
      });
      const info = await createCheckpoint(this.#k, this.pid, {
        reason: reason ?? null,
        subtree: options.subtree === true,
        actor: `pid:${this.pid}`,
        batch: this.#batch,
        call: { callId: this.#callId, sys: c.n, argsHash },
      });
      this.#allowed(authz, { checkpoint: info.id });
      return { checkpoint: info.id, restored: false };
    });
  }

  // -------------------------------------------------------------- clock

  /** The kernel's time (journaled: a replay sees the same instant). */
  now(): Promise<{ now: number; iso: string }> {
    return this.#syscall("clock.now", {}, { idempotent: true }, () => {
      const now = this.#k.clock.now();
      return Promise.resolve({ now, iso: new Date(now).toISOString() });
    });
  }

  /** Sleeps; the process waits (not running) and wakes on the kernel's clock. */
  sleep(ms: number): Promise<{ slept: number }> {
    return this.#syscall("clock.sleep", { ms }, { idempotent: true }, (c) => {
      if (!Number.isFinite(ms) || ms < 0 || ms > 7 * 24 * 3600_000) {
        throw libosError("EINVAL", `Cannot sleep ${ms} ms: expected 0 to 604,800,000`);
      }
      const until = typeof c.intent?.["until"] === "number"
        ? c.intent["until"] as number
        : this.#k.clock.now() + ms;
      if (this.#k.clock.now() >= until) return Promise.resolve({ slept: ms });
      this.#park(c, { kind: "timer", until }, { until });
    });
  }
}

function _port(url: URL): string {
  return url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
}

/** Whether `authorize` is called for a hop's host (a name, or a literal) rather than a resolved address. */
function _isHostCheck(hop: URL, address: HostClass): boolean {
  return address.kind === "name" || address.address === normalizeHost(hop.hostname);
}

function _strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === "string") : [];
}

/** A file's state as an intent records it, to settle a write found in flight. */
interface _Before {
  kind: string;
  size: number;
  mtimeMs: number;
}

function _stateOf(st: FileStat | null): _Before | null {
  return st === null ? null : { kind: st.kind, size: st.size, mtimeMs: st.mtimeMs };
}

function _sameState(before: _Before | null, now: FileStat | null): boolean {
  if (before === null || now === null) return before === null && now === null;
  return before.kind === now.kind && before.size === now.size && before.mtimeMs === now.mtimeMs;
}

function _checkName(name: unknown): void {
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw libosError(
      "EINVAL",
      `Cannot use object name ${
        JSON.stringify(name)
      }: expected 1-128 letters, digits, '.', '_' or '-' (no '/')`,
    );
  }
}

function _parseSpec(spec: unknown): GrantSpec {
  const parsed = GrantSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw libosError(
      "EINVAL",
      `Cannot use grant ${JSON.stringify(spec)}: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

function _info(o: ObjectRecord): ObjectInfo {
  return {
    oid: o.oid,
    namespace: o.namespace,
    name: o.name,
    type: o.type,
    version: o.version,
    size: o.size,
  };
}

function _filePayload(type: string, path: string, bytes: Uint8Array, sha: string): unknown {
  let text: string | null = null;
  try {
    text = decoder.decode(bytes);
  } catch {
    text = null;
  }
  switch (type) {
    case "file_snapshot":
      return text !== null
        ? { path, text, sha256: sha, size: bytes.length }
        : { path, base64: _b64(bytes), sha256: sha, size: bytes.length };
    case "text":
    case "note":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as ${type}: it is not UTF-8 text`);
      }
      return { text };
    case "log":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as log: it is not UTF-8 text`);
      }
      return { lines: text.split("\n") };
    case "json":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as json: it is not UTF-8 text`);
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw libosError("EINVAL", `Cannot copy '${path}' as json: ${(error as Error).message}`);
      }
    default:
      throw libosError(
        "EINVAL",
        `Cannot copy a file into an object of type '${type}': expected file_snapshot, text, note, log or json`,
      );
  }
}

function _objectBytes(o: ObjectRecord): Uint8Array {
  const p = o.payload as Record<string, unknown> | null;
  if (p !== null && typeof p === "object" && !Array.isArray(p)) {
    if (typeof p["base64"] === "string") return _unb64(p["base64"]);
    if (typeof p["text"] === "string") return encoder.encode(p["text"]);
    if (Array.isArray(p["lines"]) && p["lines"].every((l) => typeof l === "string")) {
      return encoder.encode(p["lines"].join("\n"));
    }
  }
  return encoder.encode(JSON.stringify(o.payload, null, 2) + "\n");
}

function _b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function _unb64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Makes a value JSON-safe for the journal (bytes become `{$bytes: base64}`). */
export function _jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: _b64(value) };
  if (Array.isArray(value)) return value.map(_jsonSafe);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = _jsonSafe(v);
    return out;
  }
  return value;
}

/** The inverse of {@linkcode _jsonSafe}. */
export function _fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(_fromJsonSafe);
  if (value !== null && typeof value === "object") {
    const rec = value as Record<string, unknown>;
    if (typeof rec["$bytes"] === "string" && Object.keys(rec).length === 1) {
      return _unb64(rec["$bytes"]);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) out[k] = _fromJsonSafe(v);
    return out;
  }
  return value;
}
