/**
 * The mailbox primitives: `send` puts a typed message on a channel, `receive`
 * takes the oldest unclaimed one, waiting (taking no slot) until one comes or
 * the timeout passes.
 *
 * Channels are `mbox:<name>` resources: `mbox:proc/<pid>` is a process's own
 * mailbox (`p_3` and `proc:p_3` name it too), any other name a named channel
 * (`mbox:jobs`, `mbox:team/results`). Sending needs `send` on the channel,
 * receiving `receive`, except that a process always receives from its own.
 *
 * Exactly once: a send's message is put in the call's batch, with its result,
 * so a replay answers the same message id and a crash before that batch
 * leaves no message. A receive claims its message through the store under
 * the key of its call (see runtime/mailbox/mailboxes.ts) before its result
 * is journaled; a crash in between finds the claim again.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { SyscallEngine } from "../engine/engine.ts";
import type { MessageRecord } from "../types.ts";

/** The largest message body, in bytes of its JSON. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** The longest a receive may wait: 7 days. */
export const MAX_RECEIVE_TIMEOUT_MS = 7 * 24 * 3600_000;

/** A message as a receiver sees it. */
export interface ReceivedMessage {
  id: string;
  channel: string;
  /** The sending process, or null (an operator). */
  from: string | null;
  type: string;
  body: unknown;
  sentAt: number;
}

/** What `receive` answers: a message, or a timeout. */
export type ReceiveResult =
  | { timedOut: false; message: ReceivedMessage }
  | { timedOut: true; message: null };

const _SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const _PID = /^p_[0-9]+$/;
const _encoder = new TextEncoder();

/**
 * The channel a `to` or `from` names: a pid (`p_3`), `proc:<pid>`,
 * `mbox:<name>` or a bare name. Throws EINVAL naming the input.
 */
export function mailboxChannel(ref: unknown): string {
  if (typeof ref !== "string" || ref.length === 0 || ref.length > 256) {
    throw _badChannel(ref);
  }
  const name = _PID.test(ref)
    ? `proc/${ref}`
    : ref.startsWith("proc:")
    ? `proc/${ref.slice(5)}`
    : ref.startsWith("mbox:")
    ? ref.slice(5)
    : ref;
  const segments = name.split("/");
  if (segments.length > 8 || !segments.every((s) => _SEGMENT.test(s))) throw _badChannel(ref);
  if (segments[0] === "proc" && segments.length !== 2) throw _badChannel(ref);
  return `mbox:${name}`;
}

/** A process's own mailbox channel. */
export function ownMailbox(pid: string): string {
  return `mbox:proc/${pid}`;
}

/** Sends a typed message to a channel (`send` on it). */
export function send(
  e: SyscallEngine,
  input: { to: string; type?: string; body: unknown },
): Promise<{ id: string; channel: string; sentAt: number }> {
  return e.syscall("mbox.send", input, (c) => {
    const channel = mailboxChannel(input.to);
    const type = input.type ?? "json";
    const body = e.k.objectTypes.validate(type, input.body);
    const bytes = _encoder.encode(JSON.stringify(body) ?? "null").length;
    if (bytes > MAX_MESSAGE_BYTES) {
      throw libosError(
        "ELIMIT",
        `Cannot send to '${channel}': the message body is ${bytes} bytes of JSON, more than the ${MAX_MESSAGE_BYTES} allowed`,
        { pid: e.pid },
      );
    }
    const authz = e.authorize(c, c.audit, channel, "send", {
      args: input,
      preview: `send a ${type} message (${bytes} bytes) to ${channel}`,
    });
    const id = e.k.records.nextId("message", "m_", e.batch);
    const m: MessageRecord = {
      id,
      seq: Number(id.slice(2)),
      channel,
      sender: e.pid,
      type,
      body,
      sentAt: e.k.clock.now(),
      claimedBy: null,
      claimKey: null,
      claimedAt: null,
    };
    e.batch.add({ kind: "message.put", message: m });
    e.batch.then(() => e.k.onMessageStored(channel));
    e.allowed(authz, { id, type, bytes });
    return Promise.resolve({ id, channel, sentAt: m.sentAt });
  });
}

/**
 * Receives the oldest unclaimed message of a channel (default: the process's
 * own mailbox). Without one, the process waits (taking no slot) until a
 * message comes or `timeoutMs` passes (absent: no deadline; 0: no wait).
 */
export function receive(
  e: SyscallEngine,
  input: { from?: string; timeoutMs?: number } = {},
): Promise<ReceiveResult> {
  return e.syscall("mbox.receive", input, async (c) => {
    const own = ownMailbox(e.pid);
    const channel = input.from === undefined ? own : mailboxChannel(input.from);
    const timeoutMs = input.timeoutMs;
    if (
      timeoutMs !== undefined &&
      !(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0 && timeoutMs <= MAX_RECEIVE_TIMEOUT_MS)
    ) {
      throw libosError(
        "EINVAL",
        `Cannot receive with timeoutMs ${
          JSON.stringify(timeoutMs)
        }: expected an integer from 0 to ${MAX_RECEIVE_TIMEOUT_MS}`,
      );
    }
    const authz = channel === own ? null : e.authorize(c, c.audit, channel, "receive", {
      args: input,
      preview: `receive a message from ${channel}`,
    });
    const allow = (detail: Record<string, unknown>) => {
      if (authz !== null) e.allowed(authz, detail);
      else {
        e.audit(c.audit, {
          resource: channel,
          decision: "allow",
          detail: { right: "receive", own: true, ...detail },
        });
      }
    };
    const m = await e.k.mailboxes.claim(channel, e.pid, `${e.callId}#${c.n}`);
    if (m !== null) {
      allow({ id: m.id, from: m.sender, type: m.type });
      return {
        timedOut: false,
        message: {
          id: m.id,
          channel: m.channel,
          from: m.sender,
          type: m.type,
          body: m.body,
          sentAt: m.sentAt,
        },
      };
    }
    const was = c.intent?.["until"];
    const until = typeof was === "number" || was === null
      ? was
      : timeoutMs === undefined
      ? null
      : e.k.clock.now() + timeoutMs;
    if (until !== null && e.k.clock.now() >= until) {
      e.k.mailboxes.forget(e.pid);
      allow({ timedOut: true });
      return { timedOut: true, message: null };
    }
    e.park(c, { kind: "message", channel, until }, { until });
  });
}

function _badChannel(ref: unknown) {
  return libosError(
    "EINVAL",
    `Cannot use mailbox ${
      JSON.stringify(ref)
    }: expected a pid ('p_3'), 'proc:<pid>', or a channel name ('jobs', 'mbox:team/results': segments of letters, digits, '.', '_' or '-')`,
  );
}
