/**
 * A store that can "crash": from a chosen batch on, nothing more reaches the
 * store it wraps, and every later commit hangs as it would in a kernel whose
 * process was killed. A new kernel booted on the wrapped store then sees
 * exactly what was durable at the crash. Tests use it to land a crash
 * between two given commits without killing a real process.
 *
 * @module
 */
import type {
  ApplyOptions,
  AuditQuery,
  ClaimedProcess,
  ClusterView,
  Fence,
  GrantQuery,
  HumanQuery,
  JournalQuery,
  KernelRegistration,
  LoadOptions,
  Mutation,
  ProcessQuery,
  ReserveIdsOptions,
  Store,
  StoreSnapshot,
} from "../store/store.ts";
import type {
  CheckpointInfo,
  CheckpointRecord,
  CommandRecord,
  Grant,
  HumanRequest,
  JournalEntry,
  MessageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
  StoredAudit,
} from "../types.ts";

/** Decides, per batch, whether the kernel dies right after (or before) it lands. */
export type CrashPoint = (mutations: readonly Mutation[]) => "before" | "after" | null;

/** Wraps a store; see the module doc. */
export class CrashableStore implements Store {
  readonly inner: Store;
  readonly kind: string;
  readonly shared: boolean;
  #crashed = false;
  #point: CrashPoint | null = null;
  /** Batches that reached the inner store. */
  applied = 0;

  constructor(inner: Store) {
    this.inner = inner;
    this.kind = inner.kind;
    this.shared = inner.shared;
  }

  /** Whether the crash happened. */
  get crashed(): boolean {
    return this.#crashed;
  }

  /** Crashes at the first batch `point` picks. */
  crashAt(point: CrashPoint): void {
    this.#point = point;
  }

  /** Crashes now: no later batch lands. */
  crash(): void {
    this.#crashed = true;
  }

  apply(batch: readonly Mutation[], options?: ApplyOptions): Promise<void> {
    if (this.#crashed) return new Promise<void>(() => {});
    const at = this.#point?.(batch) ?? null;
    if (at === "before") {
      this.#crashed = true;
      return new Promise<void>(() => {});
    }
    const done = this.inner.apply(batch, options);
    this.applied += 1;
    if (at === "after") {
      this.#crashed = true;
      return done.then(() => new Promise<void>(() => {}));
    }
    return done;
  }

  load(options?: LoadOptions): Promise<StoreSnapshot> {
    return this.inner.load(options);
  }

  /** After the crash, like a write, it never lands. */
  reserveIds(kind: string, count: number, options?: ReserveIdsOptions): Promise<number> {
    if (this.#crashed) return new Promise<number>(() => {});
    return this.inner.reserveIds(kind, count, options);
  }

  releaseIds(kind: string, from: number, end: number): Promise<void> {
    if (this.#crashed) return new Promise<void>(() => {});
    return this.inner.releaseIds(kind, from, end);
  }

  registerKernel(registration: KernelRegistration): Promise<Fence> {
    return this.inner.registerKernel(registration);
  }

  heartbeat(fence: Fence): Promise<void> {
    if (this.#crashed) return new Promise<void>(() => {});
    return this.inner.heartbeat(fence);
  }

  stopKernel(fence: Fence): Promise<void> {
    if (this.#crashed) return new Promise<void>(() => {});
    return this.inner.stopKernel(fence);
  }

  listKernels(): Promise<ClusterView> {
    return this.inner.listKernels();
  }

  declareDead(id: string, epoch: number): Promise<boolean> {
    return this.inner.declareDead(id, epoch);
  }

  claimProcesses(to: Fence, options: { limit: number }): Promise<ClaimedProcess[]> {
    return this.inner.claimProcesses(to, options);
  }

  readJournal(pid: Pid, query?: JournalQuery): Promise<JournalEntry[]> {
    return this.inner.readJournal(pid, query);
  }

  readAudit(query?: AuditQuery): Promise<StoredAudit[]> {
    return this.inner.readAudit(query);
  }

  readObjectVersions(oid: string): Promise<ObjectRecord[]> {
    return this.inner.readObjectVersions(oid);
  }

  listObjectIds(namespace: string): Promise<string[]> {
    return this.inner.listObjectIds(namespace);
  }

  readCheckpoint(id: string): Promise<CheckpointRecord | null> {
    return this.inner.readCheckpoint(id);
  }

  listCheckpoints(pid: Pid): Promise<CheckpointInfo[]> {
    return this.inner.listCheckpoints(pid);
  }

  readObjects(namespace: string): Promise<ObjectRecord[]> {
    return this.inner.readObjects(namespace);
  }

  readProcesses(query?: ProcessQuery): Promise<ProcessRecord[]> {
    return this.inner.readProcesses(query);
  }

  readHumanRequests(query?: HumanQuery): Promise<HumanRequest[]> {
    return this.inner.readHumanRequests(query);
  }

  readGrants(query?: GrantQuery): Promise<Grant[]> {
    return this.inner.readGrants(query);
  }

  readCommand(id: string): Promise<CommandRecord | null> {
    return this.inner.readCommand(id);
  }

  nextMessages(channel: string, limit: number): Promise<MessageRecord[]> {
    return this.inner.nextMessages(channel, limit);
  }

  claimedMessage(pid: Pid, key: string): Promise<MessageRecord | null> {
    return this.inner.claimedMessage(pid, key);
  }

  /** A crashed store leaves the wrapped one open for the next kernel. */
  close(): Promise<void> {
    return this.#crashed ? Promise.resolve() : this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
