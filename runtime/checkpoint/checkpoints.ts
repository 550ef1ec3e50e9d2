/**
 * Checkpoints (DESIGN §2): a consistent snapshot of one process or a subtree —
 * descriptor, capabilities, tool table, namespace objects, journal position,
 * pending human requests, budgets — and what can be done with one: restore
 * (roll back in place), fork (a new process from it), diff, and export to a
 * self-contained, hash-verified bundle that another kernel imports.
 *
 * Two rules keep these safe. A restore never widens authority: grants issued
 * after the checkpoint are revoked, and a grant revoked or spent since stays
 * so. And the audit log is never rolled back: every restore is a new record.
 * Effects outside the kernel (files written) are not undone; the journal says
 * what they were.
 *
 * @module
 */
import { Batch } from "../engine/batch.ts";
import { delegate, isLive, validateGrantSpec } from "../capability/capability.ts";
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import { libosError } from "../errors.ts";
import type { KernelCore as Kernel } from "../kernel_core.ts";
import { listHumanRequests, voidHumanRequest } from "../human/human_queue.ts";
import { isTerminal } from "../process/lifecycle.ts";
import { resolveRetention } from "../retention/retention.ts";
import { newOid } from "../memory/object_memory.ts";
import type { GrantSpec } from "../images/schemas.ts";
import type {
  CheckpointedProcess,
  CheckpointInfo,
  CheckpointRecord,
  ImageRecord,
  JournalEntry,
  ObjectLink,
  ObjectRecord,
  Pid,
  ProcessRecord,
} from "../types.ts";

/** The bundle format this code writes and reads. */
export const BUNDLE_FORMAT = "agent-libos-bundle";
/** The bundle version this code writes; it reads this version only. */
export const BUNDLE_VERSION = 1;

/** The tool call that took a checkpoint (its re-run answers "restored"). */
export interface CheckpointCall {
  callId: string;
  sys: number;
  argsHash: string;
}

/** Options of {@linkcode createCheckpoint}. */
export interface CreateCheckpointOptions {
  reason?: string | null;
  /** Include every live descendant (default false). */
  subtree?: boolean;
  /** Who takes it (audited). */
  actor: string;
  /** When a process takes it from a tool call: the batch and the call. */
  batch?: Batch;
  call?: CheckpointCall;
}

/** What changed between two checkpoints of the same process. */
export interface CheckpointDiff {
  from: string;
  to: string;
  processes: {
    pid: Pid;
    fields: { field: string; from: unknown; to: unknown }[];
    grants: { added: string[]; removed: string[] };
    objects: {
      added: string[];
      removed: string[];
      changed: { name: string; from: number; to: number }[];
    };
    journal: { from: number; to: number };
  }[];
}

/** Takes a checkpoint; it is durable when this resolves (or with `options.batch`). */
export async function createCheckpoint(
  k: Kernel,
  pid: Pid,
  options: CreateCheckpointOptions,
): Promise<CheckpointInfo> {
  const root = k.procs.get(pid);
  if (isTerminal(root.state)) {
    throw libosError("ESTATE", `Cannot checkpoint process ${pid}: it is ${root.state}`, { pid });
  }
  if (
    options.reason !== undefined && options.reason !== null &&
    (typeof options.reason !== "string" || options.reason.length > 1000)
  ) {
    throw libosError(
      "EINVAL",
      "Cannot checkpoint: 'reason' must be a string of at most 1000 characters",
    );
  }
  const members = [
    root,
    ...(options.subtree === true
      ? k.procs.descendants(pid).filter((p) => !isTerminal(p.state))
      : []),
  ];
  const processes: CheckpointedProcess[] = members.map((p) => ({
    process: structuredClone(p),
    journalSeq: k.records.journalHead(p.pid),
    grants: k.grants.of(p.pid).map((g) => ({ ...g, rights: [...g.rights] })),
    objects: k.objects.list(`proc/${p.pid}`).map((o) => structuredClone(o)),
    human: listHumanRequests(k, { pid: p.pid, state: "pending" }),
  }));
  const batch = options.batch ?? new Batch();
  const content = { processes, call: options.call ?? null };
  const record: CheckpointRecord = {
    id: k.records.nextId("checkpoint", "ck_", batch),
    pid,
    pids: members.map((p) => p.pid),
    reason: options.reason ?? null,
    createdAt: k.clock.now(),
    createdBy: options.actor,
    journalSeq: processes[0]!.journalSeq,
    hash: sha256Hex(canonicalJson(content)),
    content,
  };
  batch.add({ kind: "checkpoint.put", checkpoint: record });
  k.records.audit(batch, {
    actor: options.actor,
    action: "checkpoint.create",
    pid,
    detail: { checkpoint: record.id, pids: record.pids, reason: record.reason, hash: record.hash },
  });
  if (options.batch === undefined) await k.records.commit(batch);
  const { content: _c, ...info } = record;
  return info;
}

/** Reads a checkpoint and checks its hash. */
export async function readCheckpoint(k: Kernel, id: string): Promise<CheckpointRecord> {
  const record = await k.store.readCheckpoint(id);
  if (record === null) {
    throw libosError("ENOENT", `Cannot find checkpoint '${id}': no such checkpoint`);
  }
  if (sha256Hex(canonicalJson(record.content)) !== record.hash) {
    throw libosError(
      "EINVAL",
      `Cannot use checkpoint '${id}': its content does not match its hash`,
    );
  }
  return record;
}

/** The call a checkpoint was taken from, if a tool took it. */
function _call(record: CheckpointRecord): CheckpointCall | null {
  return (record.content as { call?: CheckpointCall | null }).call ?? null;
}

/**
 * Rolls the checkpoint's processes back in place: descriptor, usage, cursor
 * and context, namespace objects, pending requests. Grants issued since are
 * revoked; descendants created since are killed.
 */
export async function restoreCheckpoint(
  k: Kernel,
  id: string,
  actor: string,
): Promise<ProcessRecord> {
  const record = await readCheckpoint(k, id);
  const members = record.content.processes;
  for (const m of members) {
    const live = k.procs.find(m.process.pid);
    if (live === undefined) {
      throw libosError(
        "ENOENT",
        `Cannot restore checkpoint '${id}': process ${m.process.pid} no longer exists`,
      );
    }
    if (live.state === "running") {
      throw libosError(
        "ESTATE",
        `Cannot restore checkpoint '${id}': process ${live.pid} is running a step; pause it first`,
        { pid: live.pid },
      );
    }
  }
  const versions = new Map<string, number>();
  for (const m of members) {
    for (const o of m.objects) {
      if (k.objects.get(o.oid) === undefined) {
        const all = await k.store.readObjectVersions(o.oid);
        versions.set(o.oid, all.at(-1)?.version ?? o.version);
      }
    }
  }
  // Checked after the reads: a purge may have committed while they ran.
  _assertKept(k, record, "restore");
  const batch = new Batch();
  const now = k.clock.now();
  const pids = new Set(members.map((m) => m.process.pid));
  const call = _call(record);
  for (const m of members) {
    const live = k.procs.find(m.process.pid)!;
    const from = live.state;
    // Descendants born after the checkpoint belong to the future being undone.
    for (const d of k.procs.descendants(live.pid)) {
      if (!pids.has(d.pid) && d.createdAt >= record.createdAt && !isTerminal(d.state)) {
        k.lifecycle.transition(batch, d, "killed", {
          actor,
          reason: `checkpoint ${id} of ${live.pid} was restored`,
        });
      }
    }
    _restoreGrants(k, batch, m, actor);
    _restoreObjects(k, batch, m, versions, now);
    for (const r of listHumanRequests(k, { pid: live.pid, state: "pending" })) {
      if (!m.human.some((h) => h.id === r.id)) {
        voidHumanRequest(k, batch, r.id, `checkpoint ${id} was restored`);
      }
    }
    const snap = m.process;
    const back = snap.state === "running" || snap.state === "created" ? "runnable" : snap.state;
    // A process paused for the restore stays paused: it resumes into the past.
    const paused = from === "suspended";
    const spent = live.usage;
    Object.assign(live, structuredClone(snap), {
      state: paused ? "suspended" : back,
      suspendedFrom: paused ? back : null,
      updatedAt: now,
      endedAt: null,
    });
    // Spent budget stays spent: a restore rolls state back, never the meter;
    // what calls in flight hold is what holds now.
    live.usage = _keepSpent(spent, live.usage);
    k.procs.resetLive(live.pid);
    k.records.journal(batch, live.pid, "lifecycle", {
      restore: id,
      journalSeq: m.journalSeq,
      from,
      to: live.state,
    });
    if (call !== null && live.pid === record.pid) {
      k.records.journal(batch, live.pid, "syscall", {
        name: "checkpoint.create",
        argsHash: call.argsHash,
        ok: true,
        value: { checkpoint: id, restored: true },
      }, { turn: live.cursor?.turn ?? null, callId: call.callId, sys: call.sys });
    }
    k.records.saveProcess(batch, live);
    k.records.audit(batch, {
      actor,
      action: "checkpoint.restore",
      pid: live.pid,
      detail: { checkpoint: id, from, to: live.state },
    });
    k.lifecycle.settleRestored(batch, live);
  }
  await k.records.commit(batch);
  return structuredClone(k.procs.get(record.pid));
}

/**
 * Refuses a checkpoint whose processes' journals were purged (retention
 * `purge_on_exit`): resuming from it needs the journal up to it.
 */
function _assertKept(k: Kernel, record: CheckpointRecord, verb: string): void {
  for (const m of record.content.processes) {
    const live = k.procs.find(m.process.pid);
    if (live !== undefined && live.purgedAt !== null) {
      throw libosError(
        "ESTATE",
        `Cannot ${verb} checkpoint '${record.id}': process ${live.pid} ended and its bodies ` +
          "were purged (retention purge_on_exit), so its journal cannot be replayed",
        { pid: live.pid },
      );
    }
  }
}

/**
 * Usage after a restore: every meter at least what was spent before it, and
 * the holds of model calls in flight as they are now.
 */
function _keepSpent(spent: ProcessRecord["usage"], snap: ProcessRecord["usage"]) {
  return {
    ...snap,
    steps: Math.max(spent.steps, snap.steps),
    toolCalls: Math.max(spent.toolCalls, snap.toolCalls),
    tokens: Math.max(spent.tokens, snap.tokens),
    children: Math.max(spent.children, snap.children),
    costMicroUsd: Math.max(spent.costMicroUsd, snap.costMicroUsd),
    subtreeTokens: Math.max(spent.subtreeTokens, snap.subtreeTokens),
    subtreeCostMicroUsd: Math.max(spent.subtreeCostMicroUsd, snap.subtreeCostMicroUsd),
    reservedTokens: spent.reservedTokens,
    reservedCostMicroUsd: spent.reservedCostMicroUsd,
    subtreeReservedTokens: spent.subtreeReservedTokens,
    subtreeReservedCostMicroUsd: spent.subtreeReservedCostMicroUsd,
  };
}

function _restoreGrants(k: Kernel, batch: Batch, m: CheckpointedProcess, actor: string): void {
  const kept = new Set(m.grants.map((g) => g.id));
  for (const g of k.grants.of(m.process.pid)) {
    if (kept.has(g.id) || g.revoked) continue;
    for (const d of k.grants.lineageOf(g.id)) {
      if (d.revoked) continue;
      d.revoked = true;
      k.records.saveGrant(batch, d);
      k.records.audit(batch, {
        actor,
        action: "cap.revoke",
        pid: d.subject,
        resource: d.resource,
        capabilityId: d.id,
        detail: { cause: "checkpoint restore" },
      });
    }
  }
}

function _restoreObjects(
  k: Kernel,
  batch: Batch,
  m: CheckpointedProcess,
  maxVersions: Map<string, number>,
  now: number,
): void {
  const ns = `proc/${m.process.pid}`;
  const keep = new Map(m.objects.map((o) => [o.oid, o]));
  for (const o of k.objects.list(ns)) {
    if (!keep.has(o.oid)) {
      k.objects.delete(o.oid);
      batch.add({ kind: "object.delete", oid: o.oid });
    }
  }
  for (const saved of m.objects) {
    const current = k.objects.get(saved.oid);
    if (current !== undefined && current.version === saved.version) continue;
    // Versions only grow: the old content comes back as a new version.
    const top = current?.version ?? maxVersions.get(saved.oid) ?? saved.version;
    const next: ObjectRecord = { ...structuredClone(saved), version: top + 1, updatedAt: now };
    k.objects.put(next);
    batch.add({ kind: "object.put", object: next });
  }
}

/** Two checkpoints compared, process by process. */
export async function diffCheckpoints(
  k: Kernel,
  fromId: string,
  toId: string,
): Promise<CheckpointDiff> {
  const a = await readCheckpoint(k, fromId);
  const b = await readCheckpoint(k, toId);
  const byPid = new Map(a.content.processes.map((m) => [m.process.pid, m]));
  const out: CheckpointDiff = { from: fromId, to: toId, processes: [] };
  for (const mb of b.content.processes) {
    const ma = byPid.get(mb.process.pid);
    if (ma === undefined) continue;
    const fields: { field: string; from: unknown; to: unknown }[] = [];
    for (
      const f of [
        "state",
        "cwd",
        "imageId",
        "imageVersion",
        "tools",
        "usage",
        "cursor",
        "result",
        "wait",
      ] as const
    ) {
      if (canonicalJson(ma.process[f] ?? null) !== canonicalJson(mb.process[f] ?? null)) {
        fields.push({ field: f, from: ma.process[f] ?? null, to: mb.process[f] ?? null });
      }
    }
    const ga = new Set(ma.grants.filter((g) => !g.revoked).map((g) => g.id));
    const gb = new Set(mb.grants.filter((g) => !g.revoked).map((g) => g.id));
    const oa = new Map(ma.objects.map((o) => [o.oid, o]));
    const ob = new Map(mb.objects.map((o) => [o.oid, o]));
    out.processes.push({
      pid: mb.process.pid,
      fields,
      grants: {
        added: [...gb].filter((g) => !ga.has(g)),
        removed: [...ga].filter((g) => !gb.has(g)),
      },
      objects: {
        added: [...ob.values()].filter((o) => !oa.has(o.oid)).map((o) => o.name),
        removed: [...oa.values()].filter((o) => !ob.has(o.oid)).map((o) => o.name),
        changed: [...ob.values()].filter((o) =>
          oa.has(o.oid) && oa.get(o.oid)!.version !== o.version
        )
          .map((o) => ({ name: o.name, from: oa.get(o.oid)!.version, to: o.version })),
      },
      journal: { from: ma.journalSeq, to: mb.journalSeq },
    });
  }
  return out;
}

/** The journal as it stood at `seq`, after every restore marker up to it. */
export function effectiveJournal(
  entries: readonly JournalEntry[],
  upTo = Infinity,
): JournalEntry[] {
  let effective: JournalEntry[] = [];
  for (const e of entries) {
    if (e.seq > upTo) break;
    const target = e.kind === "lifecycle" ? e.data["journalSeq"] : undefined;
    if (typeof e.data["restore"] === "string" && typeof target === "number") {
      effective = effective.filter((x) => x.seq <= target);
    }
    effective.push(e);
  }
  return effective;
}

// ------------------------------------------------------------------ bundles

/** A self-contained, hash-verified export of a checkpoint. */
export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  version: number;
  exportedAt: number;
  checkpoint: CheckpointRecord;
  /** Each member's effective journal up to the checkpoint. */
  journals: Record<Pid, JournalEntry[]>;
  /** The images the members run. */
  images: ImageRecord[];
  /** sha-256 of the canonical encoding of everything else. */
  hash: string;
}

/** Builds the bundle of a checkpoint (journals and images included). */
async function _buildBundle(k: Kernel, id: string): Promise<Bundle> {
  const checkpoint = await readCheckpoint(k, id);
  _assertKept(k, checkpoint, "bundle");
  const journals: Record<Pid, JournalEntry[]> = {};
  const images: ImageRecord[] = [];
  for (const m of checkpoint.content.processes) {
    journals[m.process.pid] = effectiveJournal(
      await k.store.readJournal(m.process.pid),
      m.journalSeq,
    );
    const img = k.images.get(m.process.imageId, m.process.imageVersion);
    if (!images.some((i) => i.id === img.id && i.version === img.version)) images.push(img);
  }
  const body = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    exportedAt: k.clock.now(),
    checkpoint,
    journals,
    images,
  };
  return { ...body, hash: sha256Hex(canonicalJson(body)) } as Bundle;
}

/** Exports a checkpoint as bundle bytes (canonical JSON, hash-verified). */
export async function exportCheckpoint(k: Kernel, id: string, actor: string): Promise<Uint8Array> {
  const bundle = await _buildBundle(k, id);
  const batch = new Batch();
  k.records.audit(batch, {
    actor,
    action: "checkpoint.export",
    pid: bundle.checkpoint.pid,
    detail: { checkpoint: id, hash: bundle.hash, pids: bundle.checkpoint.pids },
  });
  await k.records.commit(batch);
  return new TextEncoder().encode(canonicalJson(bundle));
}

/**
 * Forks a new process (or subtree) from a checkpoint. Its grants are the
 * checkpoint's live ones, or, with `capabilities`, only those asked for and
 * covered by them.
 */
export async function forkCheckpoint(
  k: Kernel,
  id: string,
  options: { capabilities?: GrantSpec[]; actor: string },
): Promise<{ pids: Record<Pid, Pid> }> {
  const bundle = await _buildBundle(k, id);
  return await _instantiate(k, bundle, options.actor, {
    via: "fork",
    ...(options.capabilities === undefined ? {} : { capabilities: options.capabilities }),
  });
}

/** Checks a bundle's format, version and hashes; throws EINVAL naming what is wrong. */
export function parseBundle(bytes: Uint8Array): Bundle {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw libosError(
      "EINVAL",
      "Cannot import bundle: it is not UTF-8 JSON; truncated or not a bundle",
    );
  }
  const b = value as Partial<Bundle> | null;
  if (b === null || typeof b !== "object" || b.format !== BUNDLE_FORMAT) {
    throw libosError("EINVAL", `Cannot import bundle: format is not '${BUNDLE_FORMAT}'`);
  }
  if (b.version !== BUNDLE_VERSION) {
    throw libosError(
      "EINVAL",
      `Cannot import bundle: version ${
        String(b.version)
      } is not supported (expected ${BUNDLE_VERSION})`,
    );
  }
  const { hash, ...body } = b;
  if (typeof hash !== "string" || sha256Hex(canonicalJson(body)) !== hash) {
    throw libosError(
      "EINVAL",
      "Cannot import bundle: its content does not match its sha-256 (tampered or truncated)",
    );
  }
  const cp = b.checkpoint;
  if (
    cp === undefined || typeof cp !== "object" || sha256Hex(canonicalJson(cp.content)) !== cp.hash
  ) {
    throw libosError(
      "EINVAL",
      "Cannot import bundle: the checkpoint inside does not match its hash",
    );
  }
  for (const m of cp.content.processes) {
    if (!Array.isArray(b.journals?.[m.process.pid])) {
      throw libosError("EINVAL", `Cannot import bundle: it has no journal for ${m.process.pid}`);
    }
    if (
      !b.images?.some((i) => i.id === m.process.imageId && i.version === m.process.imageVersion)
    ) {
      throw libosError(
        "EINVAL",
        `Cannot import bundle: image ${m.process.imageId}@${m.process.imageVersion} of ${m.process.pid} is neither included nor registered`,
      );
    }
  }
  return b as Bundle;
}

/**
 * Imports a bundle: new pids, journals, objects and grants (re-issued by the
 * importing operator), the processes runnable again. Nothing changes unless
 * every check passes.
 */
export async function importBundle(
  k: Kernel,
  bytes: Uint8Array,
  actor: string,
  options: { within?: (specs: GrantSpec[]) => Promise<void> } = {},
): Promise<{ pids: Record<Pid, Pid> }> {
  const bundle = parseBundle(bytes);
  // Its grants are issued again as the importing operator: within its ceiling.
  const now = k.clock.now();
  await options.within?.(
    bundle.checkpoint.content.processes.flatMap((m) =>
      m.grants.filter((g) => !g.revoked && isLive(g, now)).map((g) => ({
        resource: g.resource,
        rights: [...g.rights],
        effect: g.effect,
        ...(g.uses === null ? {} : { uses: g.uses }),
        delegable: g.delegable,
      }))
    ),
  );
  return await _instantiate(k, bundle, actor, { via: "import" });
}

async function _instantiate(
  k: Kernel,
  bundle: Bundle,
  actor: string,
  options: { via: "import" | "fork"; capabilities?: GrantSpec[] },
): Promise<{ pids: Record<Pid, Pid> }> {
  const now0 = k.clock.now();
  const asked = options.capabilities?.map((c) => validateGrantSpec(c, now0));
  if (asked !== undefined) {
    // Refused before anything changes: every grant asked for must be covered.
    const root = bundle.checkpoint.content.processes[0]!;
    const held = root.grants.filter((g) => !g.revoked && isLive(g, now0)).map((g) => ({
      ...g,
      delegable: true,
    }));
    for (const spec of asked) {
      delegate(held, spec, {
        subject: "p_new",
        issuedBy: actor,
        now: now0,
        nextId: () => "g_dry",
      });
    }
  }
  for (const img of bundle.images) {
    if (k.images.has(img.id)) {
      const known = k.images.versions(img.id).find((r) => r.version === img.version);
      if (known !== undefined && canonicalJson(known.image) !== canonicalJson(img.image)) {
        throw libosError(
          "EEXIST",
          `Cannot import bundle: image ${img.id}@${img.version} exists here with other content`,
        );
      }
    }
  }
  for (const img of bundle.images) {
    await k.spawner.registerImage(img.image, {
      actor,
      source: `bundle:${bundle.hash.slice(0, 16)}`,
    });
  }
  const batch = new Batch();
  const map: Record<Pid, Pid> = {};
  for (const m of bundle.checkpoint.content.processes) {
    map[m.process.pid] = k.records.nextId("pid", "p_", batch);
  }
  // Objects get new oids; a link follows its target when the target comes along, and stays
  // when the target exists here (a fork from a checkpoint of this kernel); else it is dropped.
  const oidMap = new Map<string, string>();
  for (const m of bundle.checkpoint.content.processes) {
    for (const o of m.objects) oidMap.set(o.oid, newOid());
  }
  const relink = (links: readonly ObjectLink[]): ObjectLink[] =>
    links.flatMap((l) => {
      const oid = oidMap.get(l.oid) ?? (k.objects.get(l.oid) === undefined ? null : l.oid);
      return oid === null ? [] : [{ rel: l.rel, oid }];
    });
  const grantMap = new Map<string, string>();
  const now = k.clock.now();
  const call = _call(bundle.checkpoint);
  for (const m of bundle.checkpoint.content.processes) {
    const pid = map[m.process.pid]!;
    const src = m.process;
    const p: ProcessRecord = {
      ...structuredClone(src),
      pid,
      parentPid: src.parentPid !== null ? map[src.parentPid] ?? null : null,
      lineage: src.lineage.map((x) => map[x]).filter((x): x is Pid => x !== undefined),
      state: "runnable",
      wait: null,
      suspendedFrom: null,
      // A copy has no model call in flight (a snapshot may show a member's).
      usage: {
        ...structuredClone(src.usage),
        reservedTokens: 0,
        reservedCostMicroUsd: 0,
        subtreeReservedTokens: 0,
        subtreeReservedCostMicroUsd: 0,
      },
      createdAt: now,
      updatedAt: now,
      endedAt: null,
      // A checkpoint taken before retention existed kept everything.
      retention: resolveRetention(k.retention, src.retention),
      purgedAt: null,
    };
    k.procs.add(p);
    let seq = 0;
    for (const e of bundle.journals[src.pid]!) {
      seq++;
      k.records.journal(batch, pid, e.kind, e.data, { turn: e.turn, callId: e.callId, sys: e.sys });
    }
    k.records.journal(batch, pid, "lifecycle", {
      [options.via === "import" ? "imported" : "forkedFromCheckpoint"]: bundle.hash,
      from: src.pid,
      checkpoint: bundle.checkpoint.id,
      entries: seq,
    });
    if (call !== null && src.pid === bundle.checkpoint.pid) {
      k.records.journal(batch, pid, "syscall", {
        name: "checkpoint.create",
        argsHash: call.argsHash,
        ok: true,
        value: {
          checkpoint: bundle.checkpoint.id,
          restored: true,
          [options.via === "import" ? "imported" : "forked"]: true,
        },
      }, { turn: p.cursor?.turn ?? null, callId: call.callId, sys: call.sys });
    }
    const live = m.grants.filter((g) => !g.revoked && isLive(g, now));
    if (asked !== undefined && src.pid === bundle.checkpoint.pid) {
      // Attenuated: only what is asked for, covered by the checkpoint's grants.
      const held = live.map((g) => ({ ...g, delegable: true }));
      for (const spec of asked) {
        for (
          const g of delegate(held, spec, {
            subject: pid,
            issuedBy: `${options.via}:${actor}`,
            now,
            nextId: () => k.records.nextId("grant", "g_", batch),
          })
        ) {
          k.records.saveGrant(batch, { ...g, parentId: null });
        }
      }
    } else {
      for (const g of live) {
        const id = k.records.nextId("grant", "g_", batch);
        grantMap.set(g.id, id);
        k.records.saveGrant(batch, {
          ...g,
          rights: [...g.rights],
          id,
          subject: pid,
          parentId: g.parentId === null ? null : grantMap.get(g.parentId) ?? null,
          issuedBy: `${options.via}:${actor}`,
          createdAt: now,
        });
      }
    }
    for (const o of m.objects) {
      k.objectWriter.put(batch, {
        oid: oidMap.get(o.oid)!,
        namespace: `proc/${pid}`,
        name: o.name,
        type: o.type,
        payload: o.payload,
        provenance: o.provenance,
        links: relink(o.links),
      });
    }
    k.records.saveProcess(batch, p);
    k.records.audit(batch, {
      actor,
      action: options.via === "import" ? "checkpoint.import" : "checkpoint.fork",
      pid,
      detail: { from: src.pid, checkpoint: bundle.checkpoint.id, bundle: bundle.hash },
    });
    batch.then(() => k.scheduler.enqueue(pid));
  }
  await k.records.commit(batch);
  return { pids: map };
}
