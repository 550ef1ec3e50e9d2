/**
 * The human primitives: ask a question, notify, and ask for a capability.
 * Each request is raised in the batch of the intent that needs it and parks
 * the process; its answer wakes it and the same call runs again.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { escapePreview } from "../human/preview.ts";
import { validateGrantSpec } from "../capability/capability.ts";
import type { SyscallEngine } from "../engine/engine.ts";
import { parseSpec } from "./proc.ts";
import { bodyText } from "../retention/purge.ts";

/** Asks a human a question and waits for the answer. */
export function ask(
  e: SyscallEngine,
  question: string,
  options: { channel?: string } = {},
): Promise<{ answer: string }> {
  const channel = options.channel ?? "operator";
  return e.syscall("human.ask", { question, channel }, (c) => {
    if (typeof question !== "string" || question.length === 0) {
      throw libosError("EINVAL", "Cannot ask: 'question' must be a non-empty string");
    }
    const resource = `human:${channel}`;
    const authz = e.authorize(c, c.audit, resource, "ask", {
      args: { question, channel },
      preview: question,
    });
    const r = e.knownRequest(c);
    if (r !== undefined) {
      switch (r.state) {
        case "answered":
          e.allowed(authz, { request: r.id });
          return Promise.resolve({ answer: bodyText(r.answer ?? "") });
        case "denied":
          throw libosError(
            "EDENIED",
            `Cannot get an answer to request ${r.id}: ${
              r.decidedBy ?? "the human"
            } declined to answer`,
            { pid: e.pid },
          );
        case "expired":
          throw libosError(
            "EEXPIRED",
            `Cannot get an answer to request ${r.id}: it expired unanswered`,
            { pid: e.pid },
          );
        case "void":
          throw libosError(
            "ECANCELED",
            `Cannot get an answer to request ${r.id}: it was voided (${r.answer ?? ""})`,
            { pid: e.pid },
          );
        default:
          e.park(c, { kind: "human", requestId: r.id }, {
            requestId: r.id,
          });
      }
    }
    const request = e.newRequest(c, {
      kind: "question",
      actionHash: null,
      preview: question,
      resource: null,
      rights: [],
      grantId: authz.grant?.id ?? null,
    });
    e.audit(c.audit, {
      resource,
      decision: "allow",
      grant: authz.grant,
      detail: { request: request.id },
    });
    e.park(c, { kind: "human", requestId: request.id }, {
      requestId: request.id,
    });
  });
}

/** Tells a human something (recorded in the audit log and the event stream). */
export function notify(
  e: SyscallEngine,
  message: string,
  options: { channel?: string } = {},
): Promise<{ delivered: true }> {
  const channel = options.channel ?? "operator";
  return e.syscall("human.notify", { message, channel }, (c) => {
    if (typeof message !== "string") {
      throw libosError("EINVAL", "Cannot notify: 'message' must be a string");
    }
    const resource = `human:${channel}`;
    const authz = e.authorize(c, c.audit, resource, "notify", {
      args: { message, channel },
      preview: message,
    });
    e.allowed(authz, {
      message: escapePreview(message, { max: 2000 }),
    });
    return Promise.resolve({ delivered: true as const });
  });
}

/**
 * Asks a human for a capability. Approved `once`, it is a one-use grant;
 * `always`, a standing one.
 */
export function requestPermission(
  e: SyscallEngine,
  resource: string,
  rights: string[],
  reason: string,
): Promise<{ granted: true; grantId: string }> {
  const args = { resource, rights, reason };
  return e.syscall("human.requestPermission", args, (c) => {
    const spec = validateGrantSpec(parseSpec({ resource, rights }), e.k.clock.now());
    const authz = e.authorize(c, c.audit, "human:operator", "ask", {
      args,
      preview: reason,
    });
    const r = e.knownRequest(c);
    if (r !== undefined) {
      switch (r.state) {
        case "approved": {
          const g = e.k.grants.of(e.pid).find((x) => x.issuedBy === `human:${r.id}`);
          e.allowed(authz, {
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
            { pid: e.pid, resource: spec.resource },
          );
        case "expired":
          throw libosError(
            "EEXPIRED",
            `Cannot get '${spec.resource}': request ${r.id} expired unanswered`,
            { pid: e.pid },
          );
        case "void":
          throw libosError(
            "ECANCELED",
            `Cannot get '${spec.resource}': request ${r.id} was voided`,
            { pid: e.pid },
          );
        default:
          e.park(c, { kind: "human", requestId: r.id }, {
            requestId: r.id,
          });
      }
    }
    const request = e.newRequest(c, {
      kind: "permission",
      actionHash: null,
      preview: `${e.pid} asks for ${spec.resource} ${spec.rights.join(",")}: ${reason}`,
      resource: spec.resource,
      rights: spec.rights,
      grantId: null,
    });
    e.audit(c.audit, {
      resource: spec.resource,
      decision: "ask",
      detail: { request: request.id, rights: spec.rights },
    });
    e.park(c, { kind: "human", requestId: request.id }, {
      requestId: request.id,
    });
  });
}
