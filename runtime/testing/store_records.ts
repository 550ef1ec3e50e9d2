/**
 * Records for store tests: one of each kind, filled in, from a few ids.
 *
 * @module
 */
import type { Mutation } from "../store/store.ts";
import type {
  CommandRecord,
  Grant,
  HumanRequest,
  ImageRecord,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  ProcessRecord,
  StoredAudit,
} from "../types.ts";
import type { AgentImage } from "../images/schemas.ts";
import { newUsage } from "../process/spawner.ts";

/** An unclaimed message of a channel. */
export function message(id: string, seq: number, channel: string): MessageRecord {
  return {
    id,
    seq,
    channel,
    sender: "p_1",
    type: "json",
    body: { n: seq, nested: { list: [1, null, "x"] } },
    sentAt: T0 + seq,
    claimedBy: null,
    claimKey: null,
    claimedAt: null,
  };
}

/** A pending command record. */
export function commandRecord(id: string, expiresAt: number): CommandRecord {
  const [principal = "admin", key = "k"] = id.split(":");
  return {
    id,
    key,
    principal,
    method: "POST",
    route: "/v1/processes",
    path: "/v1/processes",
    bodySha256: "0".repeat(64),
    createdAt: T0,
    expiresAt,
    state: "pending",
    refs: { processes: ["p_1"], grants: [], human: [], images: [], checkpoints: [] },
    response: null,
  };
}

// ---------------------------------------------------------------------------
// Record factories: small, valid records of every kind the store persists.

/** The time every record is stamped with (ms since the epoch). */
export const T0 = 1_700_000_000_000;

/** A minimal valid agent image. */
export function agentImage(id: string): AgentImage {
  return {
    id,
    name: `Image ${id}`,
    version: "1.0.0",
    description: "",
    systemPrompt: "You write notes.",
    model: { provider: "scripted", steps: [{ tool: "exit", args: { result: { ok: true } } }] },
    tools: ["read_text_file", "exit"],
    capabilities: [{ resource: "fs:notes/**", rights: ["read", "write"] }],
    budgets: { steps: 20 },
    memory: [],
    retention: "keep",
    mcp: {},
  };
}

/** A runnable root process. */
export function processRecord(pid: string): ProcessRecord {
  return {
    pid,
    parentPid: null,
    lineage: [],
    imageId: "writer",
    imageVersion: "1.0.0",
    goal: "write a note",
    forkedFrom: null,
    state: "runnable",
    wait: null,
    suspendedFrom: null,
    cwd: "",
    tools: ["read_text_file", "exit"],
    jitTools: [],
    budgets: {},
    usage: newUsage(),
    cursor: null,
    recoveries: 0,
    result: null,
    reason: null,
    retention: "keep",
    purgedAt: null,
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    endedAt: null,
  };
}

/** An unlimited allow grant on `fs:notes/**`. */
export function grant(id: string, subject: string): Grant {
  return {
    id,
    subject,
    resource: "fs:notes/**",
    rights: ["read", "write"],
    effect: "allow",
    uses: null,
    expiresAt: null,
    delegable: true,
    parentId: null,
    issuedBy: "operator:admin",
    revoked: false,
    createdAt: T0,
  };
}

/** One version of a note in `proc/p_1`. */
export function objectRecord(oid: string, version: number, payload: unknown): ObjectRecord {
  return {
    oid,
    namespace: "proc/p_1",
    name: `note-${oid}`,
    type: "note",
    payload,
    version,
    links: [],
    provenance: { pid: "p_1", step: version },
    size: JSON.stringify(payload).length,
    createdAt: T0,
    updatedAt: T0 + version,
  };
}

/** A syscall journal entry. */
export function journalEntry(
  pid: string,
  seq: number,
  data: Record<string, unknown> = { name: "fs.readText", args: { path: "a.txt" } },
): JournalEntry {
  return { pid, seq, at: T0 + seq, kind: "syscall", turn: 1, callId: "c1.0", sys: seq, data };
}

/** A `journal.append` mutation of {@linkcode journalEntry}. */
export function journalAppend(pid: string, seq: number): Mutation {
  return { kind: "journal.append", entry: journalEntry(pid, seq) };
}

/** A stored audit record whose body is canonical JSON naming `pid` and `action`. */
export function audit(seq: number, pid: string | null, action: string): StoredAudit {
  const body = JSON.stringify({
    action,
    actor: pid === null ? "kernel" : `pid:${pid}`,
    at: T0 + seq,
    callId: null,
    capabilityId: null,
    decision: "allow",
    detail: {},
    pid,
    prevHash: `h${seq - 1}`,
    resource: null,
    seq,
    step: null,
  });
  return { seq, body, hash: `h${seq}` };
}

/** A pending approval request. */
export function humanRequest(id: string, pid: string): HumanRequest {
  return {
    id,
    pid,
    kind: "approval",
    state: "pending",
    actionHash: "sha256:abc",
    preview: "write_text_file notes/a.txt",
    previewSha256: "0".repeat(64),
    resource: null,
    rights: [],
    callId: "c1.0",
    sys: 1,
    grantId: "g_1",
    createdAt: T0,
    expiresAt: null,
    decidedAt: null,
    decidedBy: null,
    answer: null,
    scope: null,
    consumed: false,
  };
}

/** A registered image. */
export function imageRecord(id: string): ImageRecord {
  return { id, version: "1.0.0", source: null, image: agentImage(id), registeredAt: T0 };
}
