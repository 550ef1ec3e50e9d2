/**
 * How a booting kernel joins its store: it registers (a new kernel id and
 * lease epoch every boot), claims the processes of kernels that stopped or
 * died (a shared store), loads what it owns, primes its id blocks and opens
 * its audit chain. See docs/cluster.md.
 *
 * @module
 */
import { AuditChain } from "../audit/audit_chain.ts";
import { errorText, logLine } from "../human/preview.ts";
import type { ClaimedProcess, Fence, Store, StoreSnapshot } from "../store/store.ts";
import { IdBlocks } from "./id_blocks.ts";

/** Options of a kernel's cluster membership (see docs/cluster.md). */
export interface ClusterOptions {
  /**
   * The lease's TTL in ms (default 5000): a kernel that has not heartbeaten
   * for this long is declared dead and its processes adopted. It heartbeats
   * every third of it.
   */
  leaseTtlMs?: number;
  /** The host name the registry shows (default: the OS's, else "unknown"). */
  host?: string;
  /** Ids reserved from the store at a time, per kind (default 256). */
  idBlockSize?: number;
  /**
   * Called once when the kernel's lease is lost (its writes fenced): it has
   * stopped and forgotten its processes; another kernel adopts them. A
   * server exits here.
   */
  onFenced?: (error: unknown) => void;
}

/** What {@linkcode joinStore} found and opened. */
export interface Joined {
  /** This kernel's id and lease epoch. */
  fence: Fence;
  /** The lease's TTL in ms. */
  ttlMs: number;
  /** Processes claimed from stopped or dead kernels (a shared store). */
  claimed: ClaimedProcess[];
  /** What this kernel owns. */
  snap: StoreSnapshot;
  ids: IdBlocks;
  audit: AuditChain;
}

/** The kinds of ids the kernel takes from the store. */
const _ID_KINDS = ["pid", "grant", "human", "checkpoint", "boot", "message"] as const;

/** Joins the store as a new kernel (see the module doc). */
export async function joinStore(store: Store, options: ClusterOptions = {}): Promise<Joined> {
  const ttlMs = options.leaseTtlMs ?? 5000;
  if (!(Number.isSafeInteger(ttlMs) && ttlMs >= 30)) {
    throw new RangeError(
      `Cannot create a kernel: leaseTtlMs must be an integer >= 30, got ${ttlMs}`,
    );
  }
  // Every boot is a new kernel: a store held by one kernel at a time ends
  // the previous one here; a shared store keeps the others alive.
  const fence = await store.registerKernel({
    host: options.host ?? _hostname(),
    pid: Deno.pid,
    ttlMs,
  });
  // On a shared store the new kernel first claims the processes of kernels
  // that stopped or died (or of none), then loads what it owns.
  let claimed: ClaimedProcess[] = [];
  if (store.shared) {
    for (let i = 0; i < 4096; i++) {
      const chunk = await store.claimProcesses(fence, { limit: 1024 });
      if (chunk.length === 0) break;
      claimed = claimed.concat(chunk);
    }
  }
  const snap = await store.load(store.shared ? { owner: fence.kernel } : {});
  const ids = new IdBlocks(store, {
    ...(options.idBlockSize === undefined ? {} : { blockSize: options.idBlockSize }),
    onError: (e) => console.error(logLine(`libos: reserving ids: ${errorText(e)}`)),
    reset: !store.shared,
    local: !store.shared,
  });
  await ids.prime(
    store.shared ? [..._ID_KINDS, "audit"] : _ID_KINDS,
    _idFloors(snap, store.shared),
  );
  // A shared store holds one audit chain per kernel (docs/cluster.md).
  const audit = store.shared
    ? new AuditChain({ head: null, nextSeq: () => ids.next("audit") })
    : new AuditChain({ head: snap.auditHead });
  return { fence, ttlMs, claimed, snap, ids, audit };
}

/** The floors of the store's id counters: ids this store holds already. */
function _idFloors(snap: StoreSnapshot, shared: boolean): Record<string, number> {
  const floors: Record<string, number> = {};
  // Counters kept in meta before the store allocated ids.
  const counters = snap.meta["counters"];
  if (counters !== null && typeof counters === "object") {
    for (const [kind, n] of Object.entries(counters as Record<string, unknown>)) {
      if (typeof n === "number" && Number.isSafeInteger(n)) floors[kind] = n;
    }
  }
  const atLeast = (kind: string, ids: Iterable<string>, prefix: string) => {
    for (const id of ids) {
      const n = id.startsWith(prefix) ? Number(id.slice(prefix.length)) : NaN;
      if (Number.isSafeInteger(n) && n > (floors[kind] ?? 0)) floors[kind] = n;
    }
  };
  atLeast("pid", snap.processes.map((p) => p.pid), "p_");
  atLeast("grant", snap.grants.map((g) => g.id), "g_");
  atLeast("human", snap.human.map((r) => r.id), "h_");
  if (shared && snap.auditHead !== null) floors["audit"] = snap.auditHead.seq;
  return floors;
}

function _hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
