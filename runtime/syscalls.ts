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
import { decide } from "./capability.ts";
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
import { normalizeHost } from "./address.ts";
import { createCheckpoint } from "./checkpoints.ts";
import { primitiveTool } from "./primitive_tools.ts";

/** A syscall's authorization: the grant that allowed it, the approval used. */
interface _Authz {
  grant: Grant | null;
  request: HumanRequest | null;
}

/** What a process may do to its own namespace without a grant. */
const OWN_RIGHTS = new Set(["read", "write", "delete", "link", "list"]);

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

  /**
   * Runs one syscall: answers from the journal when it already completed,
   * otherwise runs `body` and journals the result (value or error).
   */
  async #syscall<T>(
    name: string,
    args: unknown,
    options: { idempotent: boolean },
    body: (intent: Record<string, unknown> | null) => Promise<T>,
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
      if (intent["phase"] === "effect" && !options.idempotent) {
        const error = libosError(
          "EUNKNOWN",
          `Cannot tell whether ${name} took effect: the kernel stopped while it ran, and ${name} is not safe to repeat`,
          { pid: this.pid },
        );
        this.#record(n, name, argsHash, { ok: false, error });
        throw error;
      }
    }
    try {
      const value = await body(intent);
      this.#record(n, name, argsHash, { ok: true, value });
      return value;
    } catch (error) {
      if (hasCode(error, "EWAITING")) throw error;
      const e = error instanceof LibosError
        ? error
        : libosError("EINVAL", error instanceof Error ? error.message : String(error));
      this.#record(n, name, argsHash, { ok: false, error: e });
      throw e;
    }
  }

  #record(
    n: number,
    name: string,
    argsHash: string,
    outcome: { ok: true; value: unknown } | { ok: false; error: LibosError },
  ): void {
    const data: Record<string, unknown> = outcome.ok
      ? { name, argsHash, ok: true, value: _jsonSafe(outcome.value) ?? null }
      : { name, argsHash, ok: false, error: outcome.error.toData() };
    const entry = this.#k._journal(this.#batch, this.pid, "syscall", data, this.#where(n));
    this.#replay.set(n, entry);
  }

  #where(n: number): { turn: number; callId: string; sys: number } {
    return { turn: this.#turn, callId: this.#callId, sys: n };
  }

  /** Journals a syscall's intent (`phase` effect or wait) for replay, in the batch. */
  #journalIntent(
    name: string,
    args: unknown,
    phase: "effect" | "wait",
    data: Record<string, unknown>,
  ): void {
    const n = this.#n;
    const argsHash = sha256Hex(canonicalJson(_jsonSafe(args) ?? null));
    const entry = this.#k._journal(
      this.#batch,
      this.pid,
      "syscall.intent",
      { name, argsHash, phase, ...data },
      this.#where(n),
    );
    this.#replay.set(n, entry);
  }

  /** Journals the intent of an effect that leaves the kernel, durably. */
  async #intent(name: string, args: unknown, data: Record<string, unknown> = {}): Promise<void> {
    this.#journalIntent(name, args, "effect", data);
    await this.#k._commit(this.#batch);
  }

  /** Parks the process until `wait` is over; the call runs again then. */
  #park(name: string, args: unknown, wait: WaitReason, data: Record<string, unknown>): never {
    this.#journalIntent(name, args, "wait", data);
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

  /**
   * Decides a right on a resource. A deny is audited and thrown before the
   * target is touched; `ask` raises (or finds) an approval bound to the exact
   * action and parks the process until a human decides.
   */
  #authorize(
    action: string,
    resource: string,
    right: string,
    exact: {
      args: unknown;
      preview: string;
      content?: string;
      intent: Record<string, unknown> | null;
    },
  ): _Authz {
    const k = this.#k;
    const now = k.clock.now();
    const { decision, grant } = this.#implicit(resource, right) ??
      decide(k.grants.of(this.pid), resource, right, now);
    if (decision === "allow") return { grant, request: null };
    if (decision === "deny") {
      this.#audit(action, {
        resource,
        decision: "deny",
        grant,
        detail: { right, reason: grant === null ? "no grant" : `grant ${grant.id} denies` },
      });
      throw libosError(
        "EPERM",
        `Cannot ${right} '${resource}': process ${this.pid} ${
          grant === null
            ? `holds no ${resource.split(":", 1)[0]} ${right} capability for it`
            : `holds grant ${grant.id} that denies it`
        }`,
        { pid: this.pid, resource, right },
      );
    }
    // ask: an approval bound to the hash of the exact action.
    const hash = sha256Hex(canonicalJson({
      action,
      resource,
      right,
      args: _jsonSafe(exact.args) ?? null,
      content: exact.content ?? null,
    }));
    const r = this.#knownRequest(exact.intent);
    if (r !== undefined && r.actionHash === hash) {
      switch (r.state) {
        case "approved":
          if (r.consumed) break;
          return { grant, request: r };
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
          this.#park(action, exact.args, { kind: "human", requestId: r.id }, { requestId: r.id });
      }
    }
    const request = this.#newRequest({
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
    this.#park(action, exact.args, { kind: "human", requestId: request.id }, {
      requestId: request.id,
    });
  }

  /**
   * The request an earlier attempt of this syscall raised — this process's
   * own (a journal copied by an import or a fork names requests of another).
   */
  #knownRequest(intent: Record<string, unknown> | null): HumanRequest | undefined {
    const id = intent?.["requestId"];
    const r = typeof id === "string" ? this.#k._human.get(id) : undefined;
    return r?.pid === this.pid ? r : undefined;
  }

  /** A process owns its namespace: no grant is needed there. */
  #implicit(resource: string, right: string): { decision: "allow"; grant: null } | null {
    const own = `proc/${this.pid}`;
    if (
      OWN_RIGHTS.has(right) &&
      (resource === `ns:${own}` || resource.startsWith(`obj:${own}/`))
    ) return { decision: "allow", grant: null };
    return null;
  }

  #newRequest(
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
      sys: this.#n,
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

  /** Spends a one-time grant and an approval, in the batch of the effect. */
  #spend(authz: _Authz): void {
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

  #allowed(
    action: string,
    resource: string,
    authz: _Authz,
    detail: Record<string, unknown> = {},
  ): void {
    this.#spend(authz);
    this.#audit(action, { resource, decision: "allow", grant: authz.grant, detail });
  }

  // ------------------------------------------------------------------- fs

  /** Resolves a path; an escape is audited as a deny. */
  #path(action: string, input: unknown): string {
    if (typeof input !== "string") {
      throw new TypeError(`Cannot use path ${String(input)}: expected a string`);
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
    action: string,
    input: unknown,
    right: string,
    exact: {
      args: unknown;
      preview: string;
      content?: string;
      intent: Record<string, unknown> | null;
    },
  ): Promise<{ path: string; real: string; authz: _Authz; resource: string }> {
    const path = this.#path(action, input);
    const resource = fsResource(path);
    const authz = this.#authorize(action, resource, right, exact);
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
      const again = decide(this.#k.grants.of(this.pid), realResource, right, this.#k.clock.now());
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
    return this.#syscall(name, { path }, { idempotent: true }, async (intent) => {
      const t = await this.#fsTarget("fs.read", path, "read", {
        args: { path },
        preview: `read ${path}`,
        intent,
      });
      const bytes = await this.#readFile(t.real);
      this.#allowed("fs.read", t.resource, t.authz, { bytes: bytes.length });
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
      return Promise.reject(new TypeError("Cannot write: data must be a string or Uint8Array"));
    }
    const content = sha256Hex(bytes);
    const args = { path, content };
    return this.#syscall("fs.write", args, { idempotent: true }, async (intent) => {
      const preview = typeof data === "string" ? data : `<${bytes.length} bytes>`;
      const t = await this.#fsTarget("fs.write", path, "write", {
        args,
        preview: `write ${bytes.length} bytes to ${path} (sha256 ${
          content.slice(0, 16)
        }…):\n${preview}`,
        content,
        intent,
      });
      if (bytes.length > MAX_FILE_BYTES) {
        throw libosError(
          "ELIMIT",
          `Cannot write '${t.path}': ${bytes.length} bytes is more than the ${MAX_FILE_BYTES}-byte write limit`,
          { path: t.path },
        );
      }
      await this.#intent("fs.write", args, { path: t.real });
      await this.#k.fs.writeBytes(t.real, bytes, { createParents: true });
      this.#allowed("fs.write", t.resource, t.authz, { bytes: bytes.length, sha256: content });
      return { path: t.path, bytes: bytes.length };
    });
  }

  /** Lists a directory. */
  list(path: string): Promise<DirEntry[]> {
    return this.#syscall("fs.list", { path }, { idempotent: true }, async (intent) => {
      const t = await this.#fsTarget("fs.list", path, "list", {
        args: { path },
        preview: `list ${path}`,
        intent,
      });
      const entries = await this.#k.fs.list(t.real);
      this.#allowed("fs.list", t.resource, t.authz, { entries: entries.length });
      return entries;
    });
  }

  /** Stats a path (null when it does not exist). Needs `read` or `list`. */
  stat(path: string): Promise<FileStat | null> {
    return this.#syscall("fs.stat", { path }, { idempotent: true }, async (intent) => {
      const t = await this.#fsTarget("fs.stat", path, "read", {
        args: { path },
        preview: `stat ${path}`,
        intent,
      });
      const st = await this.#k.fs.stat(t.real);
      this.#allowed("fs.stat", t.resource, t.authz);
      return st;
    });
  }

  /** Deletes a file or an empty directory (needs `delete`, not `write`). */
  delete(path: string): Promise<{ path: string }> {
    return this.#syscall("fs.delete", { path }, { idempotent: true }, async (intent) => {
      const t = await this.#fsTarget("fs.delete", path, "delete", {
        args: { path },
        preview: `delete ${path}`,
        intent,
      });
      const redo = intent !== null && intent["phase"] === "effect";
      await this.#intent("fs.delete", { path }, { path: t.real });
      try {
        await this.#k.fs.remove(t.real);
      } catch (error) {
        // Redone after a crash: the first attempt may have removed it.
        if (!(redo && hasCode(error, "ENOENT"))) throw error;
      }
      this.#allowed("fs.delete", t.resource, t.authz);
      return { path: t.path };
    });
  }

  /** Makes a directory and its parents (needs `write`). */
  mkdir(path: string): Promise<{ path: string }> {
    return this.#syscall("fs.mkdir", { path }, { idempotent: true }, async (intent) => {
      const t = await this.#fsTarget("fs.mkdir", path, "write", {
        args: { path },
        preview: `make directory ${path}`,
        intent,
      });
      await this.#intent("fs.mkdir", { path }, { path: t.real });
      await this.#k.fs.mkdir(t.real, { recursive: true });
      this.#allowed("fs.mkdir", t.resource, t.authz);
      return { path: t.path };
    });
  }

  // ------------------------------------------------------------ objects

  /** Splits a ref into namespace and name (or an oid). */
  #ref(ref: unknown): { oid: string } | { namespace: string; name: string } {
    if (typeof ref !== "string" || ref.length === 0 || ref.length > 512 || ref.includes("\u0000")) {
      throw new TypeError(
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
    action: string,
    ref: unknown,
    right: string,
    intent: Record<string, unknown> | null,
    args: unknown,
  ): { object: ObjectRecord; authz: _Authz; resource: string } {
    const r = this.#ref(ref);
    if ("oid" in r) {
      const o = this.#k.objects.get(r.oid);
      if (o === undefined) {
        throw libosError("ENOENT", `Cannot ${right} object '${r.oid}': no such object`, {
          pid: this.pid,
        });
      }
      const resource = `obj:${o.namespace}/${o.name}`;
      return {
        object: o,
        resource,
        authz: this.#authorize(action, resource, right, {
          args,
          preview: `${right} object ${o.namespace}/${o.name}`,
          intent,
        }),
      };
    }
    const resource = `obj:${r.namespace}/${r.name}`;
    const authz = this.#authorize(action, resource, right, {
      args,
      preview: `${right} object ${r.namespace}/${r.name}`,
      intent,
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
    return this.#syscall("obj.create", input, { idempotent: false }, (intent) => {
      const namespace = input.namespace ?? `proc/${this.pid}`;
      _checkName(input.name);
      const resource = `obj:${namespace}/${input.name}`;
      const authz = this.#authorize("obj.create", resource, "write", {
        args: input,
        preview: `create ${input.type} object ${namespace}/${input.name}`,
        intent,
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
      this.#allowed("obj.create", resource, authz, { oid: o.oid, type: o.type, size: o.size });
      return Promise.resolve(_info(o));
    });
  }

  /** Reads an object's latest version. */
  read(ref: string): Promise<ObjectRecord> {
    return this.#syscall("obj.read", { ref }, { idempotent: true }, (intent) => {
      const { object, authz, resource } = this.#object("obj.read", ref, "read", intent, { ref });
      this.#allowed("obj.read", resource, authz, { oid: object.oid, version: object.version });
      return Promise.resolve(structuredClone(object));
    });
  }

  /** Writes a new version of an object (validated by its type). */
  writeObject(ref: string, payload: unknown): Promise<ObjectInfo> {
    return this.#syscall("obj.write", { ref, payload }, { idempotent: false }, (intent) => {
      const { object, authz, resource } = this.#object("obj.write", ref, "write", intent, {
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
      this.#allowed("obj.write", resource, authz, { oid: o.oid, version: o.version, size: o.size });
      return Promise.resolve(_info(o));
    });
  }

  /** Lists a namespace (own by default; another needs `ns:<namespace>` list). */
  listObjects(namespace?: string): Promise<ObjectInfo[]> {
    const ns = namespace ?? `proc/${this.pid}`;
    return this.#syscall("obj.list", { namespace: ns }, { idempotent: true }, (intent) => {
      const resource = `ns:${ns}`;
      const authz = this.#authorize("obj.list", resource, "list", {
        args: { namespace: ns },
        preview: `list namespace ${ns}`,
        intent,
      });
      const list = this.#k.objects.list(ns).map(_info);
      this.#allowed("obj.list", resource, authz, { count: list.length });
      return Promise.resolve(list);
    });
  }

  /** Links one object to another (`link` on the source, `read` on the target). */
  link(from: string, rel: string, to: string): Promise<ObjectInfo> {
    return this.#syscall("obj.link", { from, rel, to }, { idempotent: false }, (intent) => {
      if (typeof rel !== "string" || !/^[a-z][a-z0-9_.-]{0,63}$/.test(rel)) {
        throw new TypeError(
          `Cannot link with relation ${JSON.stringify(rel)}: expected a lower-case name`,
        );
      }
      const src = this.#object("obj.link", from, "link", intent, { from, rel, to });
      const dst = this.#object("obj.link", to, "read", intent, { from, rel, to });
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
      this.#allowed("obj.link", src.resource, src.authz, { rel, to: dst.object.oid });
      this.#spend(dst.authz);
      return Promise.resolve(_info(o));
    });
  }

  /** Deletes an object (its versions stay in the store). */
  deleteObject(ref: string): Promise<{ oid: string }> {
    return this.#syscall("obj.delete", { ref }, { idempotent: false }, (intent) => {
      const { object, authz, resource } = this.#object("obj.delete", ref, "delete", intent, {
        ref,
      });
      this.#k.objects.delete(object.oid);
      this.#batch.add({ kind: "object.delete", oid: object.oid });
      this.#allowed("obj.delete", resource, authz, { oid: object.oid });
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
    return this.#syscall("obj.fromFile", args, { idempotent: false }, async (intent) => {
      _checkName(name);
      const namespace = `proc/${this.pid}`;
      const t = await this.#fsTarget("obj.fromFile", path, "read", {
        args,
        preview: `copy ${path} into object ${name}`,
        intent,
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
      this.#allowed("obj.fromFile", t.resource, t.authz, {
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
    return this.#syscall("obj.toFile", args, { idempotent: true }, async (intent) => {
      const src = this.#object("obj.toFile", ref, "read", intent, args);
      const bytes = _objectBytes(src.object);
      const sha = sha256Hex(bytes);
      const t = await this.#fsTarget("obj.toFile", path, "write", {
        args,
        preview:
          `write object ${src.object.namespace}/${src.object.name} (${bytes.length} bytes) to ${path}`,
        content: sha,
        intent,
      });
      await this.#intent("obj.toFile", args, { path: t.real });
      await this.#k.fs.writeBytes(t.real, bytes, { createParents: true });
      this.#spend(src.authz);
      this.#allowed("obj.toFile", t.resource, t.authz, {
        oid: src.object.oid,
        bytes: bytes.length,
        sha256: sha,
      });
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
    return this.#syscall("human.ask", { question, channel }, { idempotent: true }, (intent) => {
      if (typeof question !== "string" || question.length === 0) {
        throw new TypeError("Cannot ask: 'question' must be a non-empty string");
      }
      const resource = `human:${channel}`;
      const authz = this.#authorize("human.ask", resource, "ask", {
        args: { question, channel },
        preview: question,
        intent,
      });
      const r = this.#knownRequest(intent);
      if (r !== undefined) {
        switch (r.state) {
          case "answered":
            this.#allowed("human.ask", resource, authz, { request: r.id });
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
            this.#park("human.ask", { question, channel }, { kind: "human", requestId: r.id }, {
              requestId: r.id,
            });
        }
      }
      const request = this.#newRequest({
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
      this.#park("human.ask", { question, channel }, { kind: "human", requestId: request.id }, {
        requestId: request.id,
      });
    });
  }

  /** Tells a human something (recorded in the audit log and the event stream). */
  notify(message: string, options: { channel?: string } = {}): Promise<{ delivered: true }> {
    const channel = options.channel ?? "operator";
    return this.#syscall("human.notify", { message, channel }, { idempotent: true }, (intent) => {
      if (typeof message !== "string") {
        throw new TypeError("Cannot notify: 'message' must be a string");
      }
      const resource = `human:${channel}`;
      const authz = this.#authorize("human.notify", resource, "notify", {
        args: { message, channel },
        preview: message,
        intent,
      });
      this.#allowed("human.notify", resource, authz, {
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
    return this.#syscall("human.requestPermission", args, { idempotent: true }, (intent) => {
      const spec = validateGrantSpec(_parseSpec({ resource, rights }), this.#k.clock.now());
      const authz = this.#authorize("human.requestPermission", "human:operator", "ask", {
        args,
        preview: reason,
        intent,
      });
      const r = this.#knownRequest(intent);
      if (r !== undefined) {
        switch (r.state) {
          case "approved": {
            const g = this.#k.grants.of(this.pid).find((x) => x.issuedBy === `human:${r.id}`);
            this.#allowed("human.requestPermission", spec.resource, authz, {
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
            this.#park("human.requestPermission", args, { kind: "human", requestId: r.id }, {
              requestId: r.id,
            });
        }
      }
      const request = this.#newRequest({
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
      this.#park("human.requestPermission", args, { kind: "human", requestId: request.id }, {
        requestId: request.id,
      });
    });
  }

  // ------------------------------------------------------------ process

  /** Spawns a child from an image (default: the caller's). */
  spawn(
    input: { goal: string; image?: string; capabilities?: GrantSpec[] },
  ): Promise<{ pid: Pid }> {
    return this.#syscall("proc.spawn", input, { idempotent: false }, async (intent) => {
      const authz = this.#authorize("proc.spawn", "proc", "spawn", {
        args: input,
        preview: `spawn a child (${input.image ?? this.#p.imageId}) to: ${input.goal}`,
        intent,
      });
      const child = await this.#k._spawn(
        {
          image: input.image ?? this.#p.imageId,
          goal: input.goal,
          capabilities: (input.capabilities ?? []).map(_parseSpec),
        },
        { actor: `pid:${this.pid}`, parent: this.#p, forkOf: null, batch: this.#batch },
      );
      this.#allowed("proc.spawn", "proc", authz, { child: child.pid });
      return { pid: child.pid };
    });
  }

  /** Forks the caller: same image, cwd and tools; only named grants; named objects read-only. */
  fork(
    input: { goal: string; capabilities?: GrantSpec[]; objects?: string[] },
  ): Promise<{ pid: Pid }> {
    return this.#syscall("proc.fork", input, { idempotent: false }, async (intent) => {
      const authz = this.#authorize("proc.fork", "proc", "fork", {
        args: input,
        preview: `fork to: ${input.goal}`,
        intent,
      });
      await this.#k._commit(this.#batch);
      const child = await this.#k._fork(this.#p, {
        goal: input.goal,
        capabilities: (input.capabilities ?? []).map(_parseSpec),
        objects: input.objects ?? [],
      }, `pid:${this.pid}`);
      this.#allowed("proc.fork", "proc", authz, { child: child.pid });
      return { pid: child.pid };
    });
  }

  /** Waits for a child to end; returns its state and result. */
  wait(pid: Pid): Promise<WaitResult> {
    return this.#syscall("proc.wait", { pid }, { idempotent: true }, () => {
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
      this.#park("proc.wait", { pid }, { kind: "child", pid }, { child: pid });
    });
  }

  /** Signals a descendant. */
  signal(
    pid: Pid,
    signal: "pause" | "resume" | "cancel" | "kill",
  ): Promise<{ pid: Pid; state: string }> {
    return this.#syscall("proc.signal", { pid, signal }, { idempotent: false }, async (intent) => {
      const authz = this.#authorize("proc.signal", "proc", "signal", {
        args: { pid, signal },
        preview: `${signal} ${pid}`,
        intent,
      });
      this.#child("signal", pid);
      this.#allowed("proc.signal", "proc", authz, { target: pid, signal });
      await this.#k._commit(this.#batch);
      const after = await this.#k.signal(pid, signal, { actor: `pid:${this.pid}` });
      return { pid, state: after.state };
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
    return this.#syscall("net.fetch", args, { idempotent }, async (intent) => {
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
      const used: Grant[] = [];
      const authorize = (hop: URL, address: { kind: string; address: string | null }) => {
        const port = hop.port !== "" ? hop.port : hop.protocol === "https:" ? "443" : "80";
        const host = address.kind === "name"
          ? normalizeHost(hop.hostname)
          : address.address ?? normalizeHost(hop.hostname);
        const resource = `net:${host}:${port}`;
        const special = address.kind !== "name" && address.kind !== "public";
        const { decision, grant } = decide(k.grants.of(this.pid), resource, "fetch", k.clock.now());
        const explicit = grant !== null && !/[*?]/.test(grant.resource);
        if (decision !== "allow" || (special && !explicit)) {
          this.#audit("net.fetch", {
            resource,
            decision: "deny",
            grant,
            detail: {
              url: hop.href,
              address: address.address,
              kind: address.kind,
              reason: special && decision === "allow"
                ? "a special address needs an explicit grant"
                : "no grant",
            },
          });
          throw libosError(
            "EPERM",
            `Cannot fetch '${hop.href}': process ${this.pid} holds no ${
              special ? "explicit " : ""
            }net fetch capability for ${resource}`,
            { pid: this.pid, resource, right: "fetch" },
          );
        }
        if (grant !== null) used.push(grant);
      };
      if (intent === null) await this.#intent("net.fetch", args, { url: url.href });
      const res = await k.net.fetch({
        url: url.href,
        method,
        ...(request.headers === undefined ? {} : { headers: request.headers }),
        ...(request.body === undefined ? {} : { body: request.body }),
      }, { authorize });
      for (const g of new Set(used)) this.#spend({ grant: g, request: null });
      this.#audit("net.fetch", {
        resource: `net:${normalizeHost(url.hostname)}`,
        decision: "allow",
        grant: used[0] ?? null,
        detail: {
          url: url.href,
          status: res.status,
          bytes: res.body.length,
          redirects: res.redirects.length,
        },
      });
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
   * Runs a program (argv, no shell) under a `shell:<program> <args>` grant,
   * in the process cwd, confined to that subtree with the fs rights held
   * there (read-only unless write is held), with no network unless a `net:`
   * grant allows one.
   */
  runShell(argv: string[], options: { timeoutMs?: number } = {}): Promise<ShellRunResult> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const args = { argv, timeoutMs };
    return this.#syscall("shell.run", args, { idempotent: false }, async (intent) => {
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
        throw new RangeError(
          `Cannot run '${argv[0]}': timeoutMs must be 1 to 600,000, got ${timeoutMs}`,
        );
      }
      const resource = shellResource(argv[0]!, argv.slice(1));
      const authz = this.#authorize("shell.run", resource, "exec", {
        args,
        preview: `run ${argv.map((a) => JSON.stringify(a)).join(" ")} in /${this.#p.cwd}`,
        intent,
      });
      if (k.shell === null) {
        throw libosError("EINVAL", "Cannot run a program: this kernel has no shell provider");
      }
      const cwd = this.#p.cwd;
      const real = await k.fs.realPath(cwd);
      const now = k.clock.now();
      const held = (right: string) =>
        decide(k.grants.of(this.pid), fsResource(real), right, now).decision === "allow";
      if (!held("read") && !held("write")) {
        this.#audit("shell.run", {
          resource: fsResource(real),
          decision: "deny",
          detail: { reason: "no fs read or write on the working directory" },
        });
        throw libosError(
          "EPERM",
          `Cannot run '${
            argv[0]
          }' in '/${real}': process ${this.pid} holds no fs read or write capability for its working directory`,
          { pid: this.pid, resource: fsResource(real) },
        );
      }
      const network = k.grants.of(this.pid).some((g) =>
        g.effect === "allow" && g.resource.startsWith("net:") && g.rights.includes("fetch") &&
        isLive(g, now)
      );
      await this.#intent("shell.run", args, { cwd: real });
      const r = await k.shell.run({
        argv,
        cwd: real,
        access: held("write") ? "write" : "read",
        network,
        timeoutMs,
      });
      this.#allowed("shell.run", resource, authz, {
        code: r.code,
        signal: r.signal,
        timedOut: r.timedOut,
        confined: r.confined,
        network,
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
    return this.#syscall("tool.register", { candidate }, { idempotent: true }, (intent) => {
      const authz = this.#authorize("tool.register", "tool", "register", {
        args: { candidate },
        preview: `register tool ${candidate}`,
        intent,
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
      this.#allowed("tool.register", "tool", authz, {
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
    return this.#syscall("checkpoint.create", args, { idempotent: false }, async (intent) => {
      const authz = this.#authorize("checkpoint.create", "checkpoint", "create", {
        args,
        preview: `checkpoint ${this.pid}${reason ? `: ${reason}` : ""}`,
        intent,
      });
      const info = await createCheckpoint(this.#k, this.pid, {
        reason: reason ?? null,
        subtree: options.subtree === true,
        actor: `pid:${this.pid}`,
        batch: this.#batch,
        call: { callId: this.#callId, sys: this.#n, argsHash },
      });
      this.#allowed("checkpoint.create", "checkpoint", authz, { checkpoint: info.id });
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
    return this.#syscall("clock.sleep", { ms }, { idempotent: true }, (intent) => {
      if (!Number.isFinite(ms) || ms < 0 || ms > 7 * 24 * 3600_000) {
        throw new RangeError(`Cannot sleep ${ms} ms: expected 0 to 604,800,000`);
      }
      const until = typeof intent?.["until"] === "number"
        ? intent["until"] as number
        : this.#k.clock.now() + ms;
      if (this.#k.clock.now() >= until) return Promise.resolve({ slept: ms });
      this.#park("clock.sleep", { ms }, { kind: "timer", until }, { until });
    });
  }
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
