/**
 * The control plane's reads over a cluster (docs/cluster.md "Across
 * kernels"): a kernel's API reads a process, a human request, a grant, an
 * object or a checkpoint another kernel owns from the store, and long-polls
 * a process woken by the notifier. What acts on another kernel's process is
 * forwarded to its owner (api/forwarder.ts). A store of one kernel has no
 * one to reach: every function here is then the kernel's own answer.
 *
 * @module
 */
import {
  type CheckpointInfo,
  type Grant,
  hasCode,
  type HumanRequest,
  type Kernel,
  libosError,
  type ObjectRecord,
  type ProcessRecord,
  type ProcessState,
} from "../runtime/mod.ts";

/** The fallback poll of a remote long poll, in ms. */
const _POLL_MS = 500;

/** A process, this kernel's or (on a shared store) any kernel's. */
export async function findProcess(kernel: Kernel, pid: string): Promise<ProcessRecord> {
  try {
    return kernel.get(pid);
  } catch (error) {
    if (!hasCode(error, "ENOENT") || !kernel.store.shared) throw error;
    const [p] = await kernel.store.readProcesses({ pids: [pid] });
    if (p === undefined) throw error;
    return p;
  }
}

/** Whether this kernel runs the process. */
export function ownsProcess(kernel: Kernel, pid: string): boolean {
  try {
    kernel.get(pid);
    return true;
  } catch {
    return false;
  }
}

/** Processes of the whole cluster (this kernel's as it holds them, the others' as stored). */
export async function clusterProcesses(
  kernel: Kernel,
  filter: { state?: ProcessState; parent?: string },
): Promise<ProcessRecord[]> {
  const local = kernel.list(filter);
  if (!kernel.store.shared) return local;
  const mine = new Set(local.map((p) => p.pid));
  const stored = await kernel.store.readProcesses(filter);
  return [...local, ...stored.filter((p) => !mine.has(p.pid))];
}

/** A human request, this kernel's or (on a shared store) any kernel's. */
export async function findHumanRequest(kernel: Kernel, id: string): Promise<HumanRequest> {
  try {
    return kernel.humanRequest(id);
  } catch (error) {
    if (!hasCode(error, "ENOENT") || !kernel.store.shared) throw error;
    const [r] = await kernel.store.readHumanRequests({ ids: [id] });
    if (r === undefined) throw error;
    return r;
  }
}

/** Human requests of the whole cluster, oldest first. */
export async function clusterHumanRequests(
  kernel: Kernel,
  filter: { state?: HumanRequest["state"]; pid?: string },
): Promise<HumanRequest[]> {
  const local = kernel.humanRequests(filter);
  if (!kernel.store.shared) return local;
  const mine = new Set(local.map((r) => r.id));
  const stored = await kernel.store.readHumanRequests(filter);
  return [...local, ...stored.filter((r) => !mine.has(r.id))]
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/**
 * Waits until another kernel's process settles (`done`), re-reading it from
 * the store at each of its notices and every {@linkcode _POLL_MS}; resolves
 * with the record then, or at `signal`'s abort with the last one read.
 */
export async function waitRemote(
  kernel: Kernel,
  pid: string,
  done: (state: ProcessState) => boolean,
  signal: AbortSignal,
): Promise<{ process: ProcessRecord; timedOut: boolean }> {
  let wake: () => void = () => {};
  using _sub = kernel.onNotice((n) => {
    if (n.kind === "process" && n.pid === pid) wake();
  });
  const onAbort = () => wake();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const p = await findProcess(kernel, pid);
      if (done(p.state)) return { process: p, timedOut: false };
      if (signal.aborted) return { process: p, timedOut: true };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, _POLL_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Whether the process is another kernel's (on a shared store, and not this one's). */
function _remote(kernel: Kernel, pid: string): boolean {
  return kernel.store.shared && !ownsProcess(kernel, pid);
}

/** The grants a process holds, this kernel's or (on a shared store) any kernel's. */
export async function processGrants(kernel: Kernel, pid: string): Promise<Grant[]> {
  if (!_remote(kernel, pid)) return kernel.capabilities(pid);
  await findProcess(kernel, pid);
  return await kernel.store.readGrants({ subject: pid });
}

/** The process a grant belongs to, or null when no kernel knows the grant. */
export async function grantSubject(kernel: Kernel, id: string): Promise<string | null> {
  const local = kernel.grants.get(id);
  if (local !== undefined || !kernel.store.shared) return local?.subject ?? null;
  const [g] = await kernel.store.readGrants({ ids: [id] });
  return g?.subject ?? null;
}

/** The checkpoints that include a process, any kernel's on a shared store. */
export async function processCheckpoints(kernel: Kernel, pid: string): Promise<CheckpointInfo[]> {
  if (!_remote(kernel, pid)) return await kernel.listCheckpoints(pid);
  await findProcess(kernel, pid);
  return await kernel.store.listCheckpoints(pid);
}

/** The process a checkpoint was taken of, or null when there is no such checkpoint. */
export async function checkpointPid(kernel: Kernel, id: string): Promise<string | null> {
  return (await kernel.store.readCheckpoint(id))?.pid ?? null;
}

/**
 * One object (its newest version), this kernel's or (on a shared store) one
 * another kernel's process wrote: read from the store, unless deleted.
 */
export async function findObject(kernel: Kernel, oid: string): Promise<ObjectRecord> {
  try {
    return kernel.object(oid);
  } catch (error) {
    if (!hasCode(error, "ENOENT") || !kernel.store.shared) throw error;
    const versions = await kernel.store.readObjectVersions(oid);
    const newest = versions.at(-1);
    // Deleted objects are not among their namespace's live ones.
    const live = newest === undefined
      ? undefined
      : (await kernel.store.readObjects(newest.namespace)).find((o) => o.oid === oid);
    if (live === undefined) {
      throw libosError("ENOENT", `Cannot find object '${oid}': no such object`);
    }
    return live;
  }
}
