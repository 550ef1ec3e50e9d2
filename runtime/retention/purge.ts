/**
 * Retention: what a process keeps when it ends. Under `purge_on_exit` (an
 * image's `retention`, the kernel's, or a parent's), the bodies a process
 * produced or was given are replaced by their digests and sizes
 * ({@linkcode PurgedBody}) once it is exited, failed or killed:
 *
 * - its journal: the `data` of every entry (model responses, tool calls and
 *   results, syscall intents and results, tool logs, human decisions), except
 *   `lifecycle` entries, whose metadata stays and whose `goal` is purged;
 * - every version of every object ever stored in its namespace `proc/<pid>`
 *   (deleted ones too): the `payload`; name, type, links and size stay. An
 *   object something else still refers to is kept whole: one a live object
 *   of another namespace links to, one a checkpoint captured, or one shared
 *   with a live process (a live grant naming exactly `obj:<ns>/<name>`, as a
 *   fork's `objects` get);
 * - its human requests: `preview` and `answer` (`previewSha256` stays);
 * - its process record: `goal` and a non-null `result`.
 *
 * The purge is one store batch with a `process.purge` audit record and the
 * record's `purgedAt`, so a crash leaves all of it or none; a process that
 * ended but whose purge did not commit is purged when the kernel boots. Audit
 * records are never touched (they hold metadata, and the chain hashes them).
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "../audit/canonical_json.ts";
import { isLive } from "../capability/capability.ts";
import { Batch } from "../engine/batch.ts";
import type { KernelCore } from "../kernel_core.ts";

/** The services a purge reads and writes with. */
type Kernel = Pick<
  KernelCore,
  "clock" | "grants" | "human" | "objects" | "procs" | "records" | "store"
>;
import { listHumanRequests } from "../human/human_queue.ts";
import { isTerminal } from "../process/lifecycle.ts";
import { purgeDue } from "./retention.ts";
import type { JournalEntry, ObjectRecord, Pid, PurgedBody } from "../types.ts";

const _encoder = new TextEncoder();

/** The digest and size that stand in for a purged body. */
export function purgedBody(value: unknown): PurgedBody {
  if (isPurged(value)) return value;
  const bytes = _encoder.encode(canonicalJson(value ?? null));
  return { purged: true, sha256: sha256Hex(bytes), size: bytes.length };
}

/** Whether a value is a purged body. */
export function isPurged(value: unknown): value is PurgedBody {
  if (value === null || typeof value !== "object") return false;
  const v = value as Record<string, unknown>;
  return v["purged"] === true && typeof v["sha256"] === "string" && typeof v["size"] === "number";
}

/** A body as text: itself, or what stands in for it once purged. */
export function bodyText(value: string | PurgedBody): string {
  return typeof value === "string"
    ? value
    : `[purged: sha256 ${value.sha256}, ${value.size} bytes]`;
}

/** What a purge did (the detail of its `process.purge` audit record). */
export interface PurgeReport {
  pid: Pid;
  /** Journal entries whose bodies were replaced. */
  journal: number;
  /** Object versions whose payloads were replaced. */
  versions: number;
  /** Objects purged. */
  objects: number;
  /** Objects kept whole, each with why. */
  kept: { oid: string; why: string }[];
  /** Human requests whose preview and answer were replaced. */
  human: number;
}

/**
 * Purges an ended `purge_on_exit` process in one batch; null when nothing is
 * due (kept, already purged, or alive again). Reads first, then decides and
 * writes with no await in between, so the process's state cannot change
 * under it.
 */
export async function purgeProcess(k: Kernel, pid: Pid): Promise<PurgeReport | null> {
  const p = k.procs.get(pid);
  if (!purgeDue(p)) return null;
  const namespace = `proc/${pid}`;
  const journal = await k.store.readJournal(pid);
  const versions = new Map<string, ObjectRecord[]>();
  for (const oid of await k.store.listObjectIds(namespace)) {
    versions.set(oid, await k.store.readObjectVersions(oid));
  }
  const captured = new Set<string>();
  for (const info of await k.store.listCheckpoints(pid)) {
    const ck = await k.store.readCheckpoint(info.id);
    for (const m of ck?.content.processes ?? []) {
      if (m.process.pid === pid) { for (const o of m.objects) captured.add(o.oid); }
    }
  }
  // Something may have revived it (a restore) while the reads ran.
  if (!purgeDue(p)) return null;

  const batch = new Batch();
  const report: PurgeReport = { pid, journal: 0, versions: 0, objects: 0, kept: [], human: 0 };
  for (const e of journal) {
    const next = _purgedEntry(e);
    if (next === null) continue;
    batch.add({ kind: "journal.redact", entry: next });
    report.journal++;
  }
  const purgedLatest: ObjectRecord[] = [];
  for (const [oid, all] of versions) {
    const latest = all.at(-1);
    if (latest === undefined) continue;
    const why = captured.has(oid) ? "captured by a checkpoint" : _reachedElsewhere(k, pid, latest);
    if (why !== null) {
      report.kept.push({ oid, why });
      continue;
    }
    for (const v of all) {
      if (isPurged(v.payload)) continue;
      const next = { ...v, payload: purgedBody(v.payload) };
      batch.add({ kind: "object.redact", object: next });
      report.versions++;
      if (v === latest) purgedLatest.push(next);
    }
    report.objects++;
  }
  for (const r of listHumanRequests(k, { pid })) {
    const value = r.value ?? null; // an outcome answered `happened`: the call's result
    if (
      isPurged(r.preview) && (r.answer === null || isPurged(r.answer)) &&
      (value === null || isPurged(value))
    ) continue;
    k.records.saveHuman(batch, {
      ...k.human.get(r.id)!,
      preview: purgedBody(r.preview),
      answer: r.answer === null ? null : purgedBody(r.answer),
      ...(value === null ? {} : { value: purgedBody(value) }),
    });
    report.human++;
  }
  p.goal = purgedBody(p.goal);
  if (p.result !== null) p.result = purgedBody(p.result);
  p.purgedAt = k.clock.now();
  k.records.saveProcess(batch, p);
  k.records.audit(batch, {
    actor: "kernel:retention",
    action: "process.purge",
    pid,
    detail: {
      journal: report.journal,
      versions: report.versions,
      objects: report.objects,
      kept: report.kept,
      human: report.human,
    },
  });
  batch.then(() => {
    for (const o of purgedLatest) if (k.objects.get(o.oid) !== undefined) k.objects.put(o);
  });
  await k.records.commit(batch);
  return report;
}

/** The entry with its body purged, or null when nothing is left to purge. */
function _purgedEntry(e: JournalEntry): JournalEntry | null {
  if (e.kind !== "lifecycle") {
    return isPurged(e.data)
      ? null
      : { ...e, data: purgedBody(e.data) as unknown as JournalEntry["data"] };
  }
  const goal = e.data["goal"];
  if (goal === undefined || isPurged(goal)) return null;
  return { ...e, data: { ...e.data, goal: purgedBody(goal) } };
}

/** Why something beside this process can still reach an object, or null. */
function _reachedElsewhere(k: Kernel, pid: Pid, o: ObjectRecord): string | null {
  for (const linker of k.objects.all()) {
    if (linker.namespace !== o.namespace && linker.links.some((l) => l.oid === o.oid)) {
      return `linked from ${linker.namespace}/${linker.name}`;
    }
  }
  const now = k.clock.now();
  for (const q of k.procs.values()) {
    if (q.pid === pid || isTerminal(q.state)) continue;
    for (const g of k.grants.of(q.pid)) {
      if (!isLive(g, now) || g.effect === "deny") continue;
      // Sharing names the object exactly (a fork's `objects`); a glob such as
      // `obj:**` is authority over whatever exists, not a reference to this.
      if (g.resource === `obj:${o.namespace}/${o.name}`) {
        return `shared with ${q.pid} (grant ${g.id})`;
      }
    }
  }
  return null;
}
