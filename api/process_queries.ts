/**
 * Reading processes as the control plane shows them, shared by the HTTP
 * routes and the MCP tools (`api/mcp/`): the list in pid order with
 * revisions, the bounded long poll, a namespace's objects and a journal page.
 *
 * @module
 */
import {
  isTerminal,
  type JournalEntry,
  type Kernel,
  type ObjectRecord,
  type ProcessRecord,
  type ProcessState,
} from "../runtime/mod.ts";
import type { ApiContext } from "./context.ts";
import { withRevision } from "./revision.ts";
import { clusterProcesses, findProcess, ownsProcess, waitRemote } from "./cluster_reach.ts";

/** A journal page's default size. */
export const JOURNAL_PAGE = 200;

/** Processes, optionally by state and parent, in pid order, each with its revision. */
export function listProcesses(
  kernel: Kernel,
  filter: { state?: ProcessState; parent?: string } = {},
): (ProcessRecord & { revision: string })[] {
  return kernel.list(filter).sort((a, b) => _pidNum(a.pid) - _pidNum(b.pid)).map(withRevision);
}

/**
 * Processes of the whole cluster (every kernel's on a shared store), in pid
 * order, each with its revision.
 */
export async function listClusterProcesses(
  kernel: Kernel,
  filter: { state?: ProcessState; parent?: string } = {},
): Promise<(ProcessRecord & { revision: string })[]> {
  return (await clusterProcesses(kernel, filter)).sort((a, b) => _pidNum(a.pid) - _pidNum(b.pid))
    .map(withRevision);
}

/** Options of {@linkcode waitProcess}. */
export interface WaitProcessOptions {
  /** How long to wait at most in ms (default `limits.defaultWaitMs`, at most `limits.maxWaitMs`). */
  timeoutMs?: number;
  /** `settled` (default): terminal or waiting; `terminal`: only a terminal state. */
  until?: "settled" | "terminal";
  /** The caller went away: answer at once with the state now. */
  signal?: AbortSignal;
}

/**
 * Long-polls a process: resolves when it settles, or with `timedOut: true`
 * and its state then when the timeout passes, the caller aborts or the
 * control plane closes. An unknown pid is `ENOENT` before any wait. A process
 * another kernel runs is read from the store, again at each of its notices.
 */
export async function waitProcess(
  ctx: ApiContext,
  pid: string,
  options: WaitProcessOptions = {},
): Promise<{ process: ProcessRecord; timedOut: boolean }> {
  const { kernel, limits, closing } = ctx;
  const local = ownsProcess(kernel, pid);
  if (!local) await findProcess(kernel, pid);
  const ms = Math.min(options.timeoutMs ?? limits.defaultWaitMs, limits.maxWaitMs);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  const onAbort = () => stop.abort();
  closing.addEventListener("abort", onAbort, { once: true });
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (closing.aborted || options.signal?.aborted) stop.abort();
  try {
    if (!local) {
      const until = options.until ?? "settled";
      return await waitRemote(kernel, pid, (state) => _settled(state, until), stop.signal);
    }
    // Kernel.wait listens for a later abort only: an aborted poll answers here.
    if (stop.signal.aborted) return { process: kernel.get(pid), timedOut: true };
    const process = await kernel.wait(pid, {
      until: options.until ?? "settled",
      signal: stop.signal,
    });
    return { process, timedOut: false };
  } catch (error) {
    if (!stop.signal.aborted) throw error;
    return { process: kernel.get(pid), timedOut: true };
  } finally {
    clearTimeout(timer);
    closing.removeEventListener("abort", onAbort);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The newest version of each object of a namespace, by name, by default the
 * process's own (`proc/<pid>`); for another kernel's process, as stored. An
 * unknown pid is `ENOENT`.
 */
export async function processObjects(
  kernel: Kernel,
  pid: string,
  namespace?: string,
): Promise<{ namespace: string; objects: ObjectRecord[] }> {
  await findProcess(kernel, pid);
  const ns = namespace ?? `proc/${pid}`;
  // Another kernel's process writes its objects there: read them from the store.
  if (kernel.store.shared && !ownsProcess(kernel, pid)) {
    const objects = await kernel.store.readObjects(ns);
    return {
      namespace: ns,
      objects: objects.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    };
  }
  return { namespace: ns, objects: kernel.listObjects(ns) };
}

/**
 * A page of a process's journal after a sequence number ({@linkcode JOURNAL_PAGE}
 * entries by default); another kernel's process's from the store.
 */
export async function processJournal(
  kernel: Kernel,
  pid: string,
  page: { after?: number; limit?: number } = {},
): Promise<JournalEntry[]> {
  await findProcess(kernel, pid);
  return await kernel.store.readJournal(pid, {
    ...(page.after === undefined ? {} : { afterSeq: page.after }),
    limit: page.limit ?? JOURNAL_PAGE,
  });
}

function _settled(state: ProcessState, until: "settled" | "terminal"): boolean {
  return isTerminal(state) || (until === "settled" && state === "waiting");
}

function _pidNum(pid: string): number {
  const n = Number(pid.slice(pid.indexOf("_") + 1));
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}
