/**
 * The syscall engine: the one path every primitive takes (DESIGN §1,
 * "engine/"). A `SyscallEngine` serves one tool call of one process; the
 * primitives (runtime/primitives/, one file per family) are functions of it.
 *
 *   1. replay: a syscall that completed answers from the journal; one in
 *      flight at a crash is settled from evidence where its primitive can
 *      look (see primitives/fs.ts), redone only when its primitive is
 *      idempotent, else the image's `recovery.onUnknownOutcome` decides: it
 *      fails EUNKNOWN (its grant stays spent), or a human answers whether it
 *      happened (see "Unknown outcomes" below);
 *   2. resolve the target, then {@linkcode SyscallEngine.authorize}: the
 *      kernel's one Authorizer decides; a deny is audited and thrown before the
 *      target is touched; `ask` raises an approval in the same batch as the
 *      intent that needed it, and parks;
 *   3. an effect that leaves the kernel (a file, a socket, a program):
 *      {@linkcode SyscallEngine.effect} commits ONE batch holding the intent,
 *      the spend of every grant and approval that allowed it and the audited
 *      decision, before the effect; an effect inside the kernel (objects,
 *      processes, grants) is made in the call's batch, with
 *      {@linkcode SyscallEngine.allowed} (spend + audit) beside it;
 *   4. the result is journaled in the call's batch, which also carries any
 *      process-table change (a forked child, a killed one).
 *
 * Spending happens in one place ({@linkcode SyscallEngine.spend}); deciding in
 * one place (the kernel's Authorizer, asked only from here and from the
 * primitives' in-flight requests).
 *
 * @module
 */
import type { Batch } from "./batch.ts";
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import { type ErrorCode, hasCode, LibosError, libosError } from "../errors.ts";
import type { KernelCore as Kernel } from "../kernel_core.ts";
import { escapePreview, previewDigest } from "../human/preview.ts";
import type {
  Grant,
  HumanRequest,
  JournalEntry,
  Pid,
  ProcessRecord,
  WaitReason,
} from "../types.ts";
import { fromJsonSafe, jsonSafe, strings } from "./json_safe.ts";
import { PRIMITIVES, type SysName } from "../primitives/table.ts";

/** The hash of an exact action, which an approval is bound to. */
export function actionHash(action: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(action));
}

/** One syscall in progress. */
export interface Call {
  /** Its number within the tool call. */
  n: number;
  name: SysName;
  /** The audit action of its decisions (from the primitives' name table). */
  audit: string;
  argsHash: string;
  /** What an earlier attempt journaled (`phase` effect or wait), or null. */
  intent: Record<string, unknown> | null;
}

/** A syscall's authorization: the grant that allowed it, the approval used, whether spent. */
export interface Authz {
  action: string;
  resource: string;
  right: string;
  grant: Grant | null;
  request: HumanRequest | null;
  /** Spent by this attempt, or by an earlier one whose intent committed before a crash. */
  spent: boolean;
}

/** Serves the syscalls of one tool call (see the module doc). */
export class SyscallEngine {
  /** The kernel's state and services. */
  readonly k: Kernel;
  /** The calling process. */
  readonly p: ProcessRecord;
  /** The call's batch: committed by #effect before an outside effect, and at the call's end. */
  readonly batch: Batch;
  readonly callId: string;
  readonly turn: number;
  readonly #replay: Map<number, JournalEntry>;
  #n = 0;

  constructor(
    kernel: Kernel,
    process: ProcessRecord,
    options: { batch: Batch; callId: string; turn: number; replay: Map<number, JournalEntry> },
  ) {
    this.k = kernel;
    this.p = process;
    this.batch = options.batch;
    this.callId = options.callId;
    this.turn = options.turn;
    this.#replay = options.replay;
  }

  /** The calling process's pid. */
  get pid(): Pid {
    return this.p.pid;
  }
  //
  // The engine: every primitive goes this one way.
  //   1. replay: a syscall that completed answers from the journal; one in
  //      flight at a crash is redone only when its primitive is idempotent,
  //      else it fails EUNKNOWN (its grant stays spent) or, when the image
  //      says "ask", waits for a human's outcome answer ("Unknown outcomes" below);
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
  async syscall<T>(
    name: SysName,
    args: unknown,
    body: (call: Call) => Promise<T>,
    options: { idempotent?: boolean; evidence?: Evidence } = {},
  ): Promise<T> {
    const names = PRIMITIVES[name];
    const idempotent = options.idempotent ?? names.idempotent;
    const n = ++this.#n;
    const argsHash = sha256Hex(canonicalJson(jsonSafe(args) ?? null));
    const prior = this.#replay.get(n);
    let intent: Record<string, unknown> | null = null;
    if (prior !== undefined) {
      if (prior.data["name"] !== name || prior.data["argsHash"] !== argsHash) {
        throw libosError(
          "ENONDET",
          `Cannot replay syscall ${n} of call ${this.callId}: the journal recorded ${
            String(prior.data["name"])
          } with other arguments, the tool now made ${name}`,
          { pid: this.pid },
        );
      }
      if (prior.kind === "syscall") {
        if (prior.data["ok"] === true) return fromJsonSafe(prior.data["value"]) as T;
        const e = prior.data["error"] as { code: ErrorCode; message: string };
        throw libosError(e.code, e.message, { pid: this.pid });
      }
      intent = prior.data;
    }
    const c: Call = { n, name, audit: names.audit, argsHash, intent };
    // The result of a syscall that is not safe to redo must be durable before
    // the process goes on (see Batch.mustAwait).
    if (!idempotent) this.batch.mustAwait = true;
    try {
      if (prior !== undefined && intent?.["phase"] === "effect" && !idempotent) {
        // In flight at a crash, and not safe to repeat: the image's
        // recovery.onUnknownOutcome decides (fail, or ask a human).
        const settled = await _settleUnknown(this, c, {
          args,
          startedAt: prior.at,
          ...(options.evidence === undefined ? {} : { evidence: options.evidence }),
        });
        if (settled.kind === "happened") {
          this.#record(c, { ok: true, value: settled.value });
          return fromJsonSafe(settled.value) as T;
        }
      }
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
    c: Call,
    outcome: { ok: true; value: unknown } | { ok: false; error: LibosError },
  ): void {
    const { name, argsHash } = c;
    const data: Record<string, unknown> = outcome.ok
      ? { name, argsHash, ok: true, value: jsonSafe(outcome.value) ?? null }
      : { name, argsHash, ok: false, error: outcome.error.toData() };
    const entry = this.k.records.journal(this.batch, this.pid, "syscall", data, this.#where(c.n));
    this.#replay.set(c.n, entry);
  }

  #where(n: number): { turn: number; callId: string; sys: number } {
    return { turn: this.turn, callId: this.callId, sys: n };
  }

  /** Journals a syscall's intent (`phase` effect or wait) for replay, in the batch. */
  journalIntent(c: Call, phase: "effect" | "wait", data: Record<string, unknown>): void {
    const entry = this.k.records.journal(
      this.batch,
      this.pid,
      "syscall.intent",
      { name: c.name, argsHash: c.argsHash, phase, ...data },
      this.#where(c.n),
    );
    this.#replay.set(c.n, entry);
    c.intent = entry.data;
  }

  /** Whether an earlier attempt of this syscall committed its intent (and spent) before a crash. */
  redo(c: Call): boolean {
    return c.intent?.["phase"] === "effect";
  }

  /**
   * Commits what must be durable before an effect leaves the kernel, as one
   * batch: the intent, the spend of every grant and approval in `authz`, and
   * the audited decision (of the first). A redo after a crash (the intent was
   * committed before) spends and audits nothing again.
   */
  async effect(
    c: Call,
    authz: readonly Authz[],
    data: Record<string, unknown>,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    if (this.redo(c)) return;
    const [first] = authz;
    if (first !== undefined) this.allowed(first, detail);
    for (const a of authz) this.spend(a);
    this.journalIntent(c, "effect", data);
    await this.k.records.commit(this.batch);
  }

  /**
   * Parks the process until `wait` is over, keeping the intent as journaled;
   * the call runs again then.
   */
  waitFor(wait: WaitReason): never {
    this.k.lifecycle.park(this.batch, this.p, wait);
    throw libosError("EWAITING", `Process ${this.pid} waits for ${wait.kind}`, { pid: this.pid });
  }

  /** Parks the process until `wait` is over; the call runs again then. */
  park(c: Call, wait: WaitReason, data: Record<string, unknown>): never {
    // Every request this syscall raised stays findable: a syscall that needs
    // two approvals (the program and the paths it would see) finds both.
    const requests = strings(c.intent?.["requests"]);
    const id = data["requestId"];
    if (typeof id === "string" && !requests.includes(id)) requests.push(id);
    this.journalIntent(c, "wait", requests.length === 0 ? data : { ...data, requests });
    this.waitFor(wait);
  }

  audit(
    action: string,
    fields: {
      resource?: string | null;
      decision?: "allow" | "deny" | "ask" | null;
      grant?: Grant | null;
      detail?: Record<string, unknown>;
    } = {},
  ): void {
    this.k.records.audit(this.batch, {
      actor: `pid:${this.pid}`,
      action,
      pid: this.pid,
      resource: fields.resource ?? null,
      decision: fields.decision ?? null,
      capabilityId: fields.grant?.id ?? null,
      step: this.p.usage.steps,
      callId: this.callId,
      detail: fields.detail ?? {},
    });
  }

  /** Audits a denial and builds its EPERM. */
  deny(
    action: string,
    resource: string,
    right: string,
    grant: Grant | null,
    detail: Record<string, unknown> = {},
  ): LibosError {
    this.audit(action, {
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
  authorize(
    c: Call,
    action: string,
    resource: string,
    right: string,
    exact: { args: unknown; preview: string; content?: string },
  ): Authz {
    if (this.redo(c)) {
      return { action, resource, right, grant: null, request: null, spent: true };
    }
    const k = this.k;
    const { decision, grant } = k.authorizer.decide(this.pid, resource, right);
    if (decision === "allow") {
      return { action, resource, right, grant, request: null, spent: false };
    }
    if (decision === "deny") throw this.deny(action, resource, right, grant);
    return this.ask(c, action, resource, right, grant, exact);
  }

  /**
   * Asks a human to approve the exact action: answers the approval once it is
   * approved (to be spent with the effect), throws when it was denied, expired
   * or voided, and otherwise raises the request (in the batch of the intent
   * that needs it) or finds it pending, and parks the process.
   */
  ask(
    c: Call,
    action: string,
    resource: string,
    right: string,
    grant: Grant | null,
    exact: { args: unknown; preview: string; content?: string },
  ): Authz {
    const hash = actionHash({
      action,
      resource,
      right,
      args: jsonSafe(exact.args) ?? null,
      content: exact.content ?? null,
    });
    const r = this.knownRequest(c, hash);
    if (r !== undefined) {
      switch (r.state) {
        case "approved":
          if (r.consumed) break;
          return { action, resource, right, grant, request: r, spent: false };
        case "denied":
          this.audit(action, {
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
          this.park(c, { kind: "human", requestId: r.id }, { requestId: r.id });
      }
    }
    // The request and the intent that needs it commit in one batch: a replay
    // finds this request instead of raising a new one.
    const request = this.newRequest(c, {
      kind: "approval",
      actionHash: hash,
      preview: `${this.pid} wants to ${right} ${resource}\n${exact.preview}`,
      resource,
      rights: [right],
      grantId: grant?.id ?? null,
    });
    this.audit(action, {
      resource,
      decision: "ask",
      grant,
      detail: { right, request: request.id },
    });
    this.park(c, { kind: "human", requestId: request.id }, { requestId: request.id });
  }

  /**
   * The request an earlier attempt of this syscall raised — this process's
   * own (a journal copied by an import or a fork names requests of another).
   */
  knownRequest(c: Call, actionHash?: string): HumanRequest | undefined {
    const ids = [c.intent?.["requestId"], ...(strings(c.intent?.["requests"]))];
    for (const id of ids.reverse()) {
      const r = typeof id === "string" ? this.k.human.get(id) : undefined;
      if (r?.pid !== this.pid) continue;
      if (actionHash === undefined || r.actionHash === actionHash) return r;
    }
    return undefined;
  }

  newRequest(
    c: Call,
    fields:
      & Pick<HumanRequest, "kind" | "actionHash" | "resource" | "rights" | "grantId">
      & { preview: string },
  ): HumanRequest {
    const k = this.k;
    const now = k.clock.now();
    const preview = escapePreview(fields.preview);
    const r: HumanRequest = {
      id: k.records.nextId("human", "h_", this.batch),
      pid: this.pid,
      kind: fields.kind,
      state: "pending",
      actionHash: fields.actionHash,
      preview,
      previewSha256: previewDigest({ preview, actionHash: fields.actionHash }),
      resource: fields.resource,
      rights: fields.rights,
      callId: this.callId,
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
    k.records.saveHuman(this.batch, r);
    this.batch.then(() => k.lifecycle.armExpiry(r));
    return r;
  }

  /**
   * The one place a syscall spends: a one-time grant's use and an approval,
   * each exactly once, in the batch that commits before (or with) the effect.
   */
  spend(authz: Authz): void {
    if (authz.spent) return;
    authz.spent = true;
    const { grant, request } = authz;
    if (grant !== null && grant.uses !== null) {
      grant.uses -= 1;
      this.k.records.saveGrant(this.batch, grant);
    }
    if (request !== null) {
      request.consumed = true;
      this.k.records.saveHuman(this.batch, request);
    }
  }

  /** Spends and audits an allowed decision (an effect made inside the kernel's batch). */
  allowed(authz: Authz, detail: Record<string, unknown> = {}): void {
    const redone = authz.spent;
    this.spend(authz);
    if (redone) return;
    this.audit(authz.action, {
      resource: authz.resource,
      decision: "allow",
      grant: authz.grant,
      detail: authz.request === null ? detail : { ...detail, request: authz.request.id },
    });
  }

  /** Audits how an effect found in flight after a crash was settled. */
  settled(c: Call, authz: Authz, how: "evidence" | "redo"): void {
    this.audit(authz.action, {
      resource: authz.resource,
      decision: "allow",
      detail: { settled: how, syscall: c.name },
    });
  }
}

// Unknown outcomes: a non-idempotent syscall (a program, a non-GET fetch)
// whose intent committed before a crash and whose result did not. Nothing
// can tell whether it took effect, so recovery does what the process's image
// says (`recovery.onUnknownOutcome`):
//
// - `"fail"` (the default): the call fails `EUNKNOWN`; its grant stays spent.
// - `"ask"`: the process waits on a human request of kind `outcome` whose
//   preview shows the call, its arguments, when it started and the evidence
//   the kernel has. The answer settles the call:
//   `happened` (with an optional value, journaled as the call's result; the
//   call is not run again), `retry` (the call runs once more, under the spend
//   its intent committed: it is not authorized or spent again), or `fail`
//   (`EUNKNOWN`).
//
// Across a crash: the request commits with an intent naming it, so a replay
// finds it instead of asking again; an answer is one batch, and the call
// applies it whenever it runs next. A `retry` is marked begun (the request's
// `consumed`) in a batch that commits before the call runs again, so a crash
// during the retry is a new unknown outcome (asked again, never retried
// silently), and a crash before it retries once.

/** What the kernel can still observe of a call found in flight, as lines for the human. */
export type Evidence = (intent: Readonly<Record<string, unknown>>) => Promise<string[]>;

/** How an unknown outcome was settled: with a result, or by running the call again. */
type _Settlement = { kind: "happened"; value: unknown } | { kind: "retry" };

/**
 * Settles a call found in flight after a crash (see "Unknown outcomes"): answers
 * its result, or `retry` (the caller runs it again, as a redo), or throws
 * `EUNKNOWN`; while a human has not answered, parks the process (`EWAITING`).
 */
async function _settleUnknown(
  e: SyscallEngine,
  c: Call,
  found: { args: unknown; startedAt: number; evidence?: Evidence },
): Promise<_Settlement> {
  const policy = e.k.spawner.image(e.p).recovery?.onUnknownOutcome ?? "fail";
  if (policy === "fail") {
    throw libosError(
      "EUNKNOWN",
      `Cannot tell whether ${c.name} took effect: the kernel stopped while it ran, and ${c.name} is not safe to repeat`,
      { pid: e.pid },
    );
  }
  const r = _request(e, c);
  if (r === undefined || (r.state === "answered" && r.answer === "retry" && r.consumed)) {
    // Never asked, or the retry an answer began was itself cut short.
    return await _ask(e, c, found, r);
  }
  switch (r.state) {
    case "pending":
      e.waitFor({ kind: "human", requestId: r.id });
      break;
    case "answered":
      if (r.answer === "happened") {
        _settled(e, c, r);
        return { kind: "happened", value: r.value ?? null };
      }
      if (r.answer === "retry") {
        // Begun before it runs again: a crash from here on is a new unknown
        // outcome, never a silent second retry.
        r.consumed = true;
        e.k.records.saveHuman(e.batch, r);
        _settled(e, c, r);
        await e.k.records.commit(e.batch);
        return { kind: "retry" };
      }
      throw _unknown(e, c, `${r.decidedBy ?? "a human"} answered fail (request ${r.id})`);
    case "expired":
      throw _unknown(e, c, `outcome request ${r.id} expired unanswered`);
    default:
      throw _unknown(e, c, `outcome request ${r.id} was ${r.state} (${r.answer ?? "no reason"})`);
  }
  throw new Error("unreachable: a pending request parks the process");
}

/** The outcome request an earlier attempt raised for this intent (this process's own). */
function _request(e: SyscallEngine, c: Call): HumanRequest | undefined {
  const id = c.intent?.["outcome"];
  const r = typeof id === "string" ? e.k.human.get(id) : undefined;
  return r?.pid === e.pid && r.kind === "outcome" ? r : undefined;
}

/**
 * Raises an outcome request in the batch of an intent that names it (the
 * intent keeps its phase and what it recorded) and parks the process.
 */
async function _ask(
  e: SyscallEngine,
  c: Call,
  found: { args: unknown; startedAt: number; evidence?: Evidence },
  retried: HumanRequest | undefined,
): Promise<never> {
  const intent = c.intent ?? {};
  let evidence: string[];
  try {
    evidence = found.evidence === undefined
      ? ["none the kernel can check for this call"]
      : await found.evidence(intent);
  } catch (error) {
    evidence = [`could not be read: ${error instanceof Error ? error.message : String(error)}`];
  }
  const args = canonicalJson(jsonSafe(found.args) ?? null);
  const earlier = strings(intent["asked"]);
  const lines = [
    `${e.pid}'s ${c.name} was in flight when the kernel stopped; did it take effect?`,
    `started: ${new Date(found.startedAt).toISOString()} (call ${e.callId}, syscall ${c.n})`,
    ...(retried === undefined ? [] : [
      `this is the retry that ${
        retried.decidedBy ?? "a human"
      } answered in ${retried.id}; it too was cut short`,
    ]),
    "evidence:",
    ...evidence.map((l) => `  ${l}`),
    `arguments: ${escapePreview(args, { max: 800 })}`,
    "answer happened (optionally with the call's result), retry (it runs once more, not authorized or spent again) or fail (EUNKNOWN to the process)",
  ];
  const r = e.newRequest(c, {
    kind: "outcome",
    actionHash: actionHash({
      outcome: c.name,
      pid: e.pid,
      callId: e.callId,
      sys: c.n,
      argsHash: c.argsHash,
      asked: earlier.length,
    }),
    preview: lines.join("\n"),
    resource: null,
    rights: [],
    grantId: null,
  });
  const { name: _n, argsHash: _a, phase: _p, ...recorded } = intent;
  e.journalIntent(c, "effect", { ...recorded, outcome: r.id, asked: [...earlier, r.id] });
  e.audit(c.audit, {
    decision: "ask",
    detail: { unknownOutcome: true, syscall: c.name, request: r.id },
  });
  e.waitFor({ kind: "human", requestId: r.id });
}

/** Audits how a human settled the call. */
function _settled(e: SyscallEngine, c: Call, r: HumanRequest): void {
  e.audit(c.audit, {
    decision: "allow",
    detail: { settled: r.answer, syscall: c.name, request: r.id, by: r.decidedBy },
  });
}

function _unknown(e: SyscallEngine, c: Call, why: string) {
  return libosError(
    "EUNKNOWN",
    `Cannot tell whether ${c.name} took effect: the kernel stopped while it ran, and ${why}`,
    { pid: e.pid },
  );
}
