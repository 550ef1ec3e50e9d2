/**
 * The embedded store's writer thread: a second connection to the database,
 * in a `node:worker_threads` worker (`sqlite_writer_thread_main.ts`), that
 * commits groups of batches while the kernel goes on. `node:sqlite` is
 * synchronous, so a commit made in the kernel's thread stops it for the
 * commit's fsync; many processes' steps then wait for the disk in turn. In
 * the thread, groups are committed one after the other, in the order they
 * were sent (its message queue is FIFO), so they may be sent before the one
 * ahead is durable (`GroupCommit`'s `inFlight`).
 *
 * The thread is started when groups begin to hold several batches that are
 * waited for, and let go after {@linkcode THREAD_IDLE_MS} (by default) without a group; until it
 * has said it is ready, and whenever it cannot be started, groups are
 * committed in the kernel's thread, as before. It never keeps a kernel
 * alive: it is referenced only while a group is in it.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { type ErrorCode, type ErrorFields, type LibosError, libosError } from "../errors.ts";
import type { EncodedMutation } from "./store_encoding.ts";

/** How long the thread waits for another group before it goes, in ms, by default. */
export const THREAD_IDLE_MS = 2_000;

/** Options of {@linkcode SqliteWriterThread}. */
export interface WriterThreadOptions {
  /** The connection's busy timeout, in ms. */
  busyTimeoutMs: number;
  /** How long the thread waits for another group before it goes, in ms. */
  idleMs: number;
  /** False: never start (every group is committed in the kernel's thread). */
  enabled: boolean;
}

/** What the kernel's thread sends. */
export type ThreadRequest =
  | { kind: "commit"; id: number; batches: readonly (readonly EncodedMutation[])[] }
  | { kind: "close" };

/** What the writer thread answers. */
export type ThreadAnswer =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { kind: "closed" }
  | {
    kind: "committed";
    id: number;
    transactions: number;
    errors: ({ code: ErrorCode; message: string; fields: ErrorFields } | null)[];
  };

/** A group's outcome: each batch's error (null when it committed), and the transactions begun. */
export interface ThreadCommit {
  errors: (LibosError | null)[];
  transactions: number;
}

interface _Pending {
  resolve: (out: ThreadCommit) => void;
  reject: (error: Error) => void;
}

const _main = new URL("./sqlite_writer_thread_main.ts", import.meta.url);

/** The writer thread of one store: started on demand, let go when idle. */
export class SqliteWriterThread {
  readonly #path: string;
  readonly #options: WriterThreadOptions;
  #worker: Worker | null = null;
  #state: "off" | "starting" | "ready" | "closing" | "broken" = "off";
  readonly #pending = new Map<number, _Pending>();
  #next = 0;
  #idle: number | null = null;
  #gone: Promise<void> = Promise.resolve();

  constructor(path: string, options: WriterThreadOptions) {
    this.#path = path;
    this.#options = options;
    // An in-memory database is not shared between connections.
    if (!options.enabled || path === ":memory:" || path === "") this.#state = "broken";
  }

  /** Whether groups may be sent now. */
  get ready(): boolean {
    return this.#state === "ready";
  }

  /** Groups sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Starts the thread unless it runs, starts or cannot run; groups go to it once it is ready. */
  start(): void {
    if (this.#state !== "off") return;
    this.#state = "starting";
    let worker: Worker;
    try {
      worker = new Worker(_main, {
        workerData: { path: this.#path, busyTimeoutMs: this.#options.busyTimeoutMs },
      });
    } catch {
      // No thread here: groups stay in the kernel's thread.
      this.#state = "broken";
      return;
    }
    this.#worker = worker;
    worker.unref();
    let exited!: () => void;
    this.#gone = new Promise<void>((resolve) => exited = resolve);
    worker.on("message", (answer: ThreadAnswer) => this.#answer(answer));
    worker.on("error", (error: Error) => this.#lost(`failed (${error.message})`));
    worker.on("exit", () => {
      this.#lost("ended");
      exited();
    });
    this.#resetIdle();
  }

  /** Sends a group; resolves with its outcome once the thread has committed it. */
  commit(batches: readonly (readonly EncodedMutation[])[]): Promise<ThreadCommit> {
    const worker = this.#worker;
    if (this.#state !== "ready" || worker === null) {
      return Promise.reject(new Error("the writer thread is not ready"));
    }
    this.#clearIdle();
    // Waited for while it commits; not what keeps a kernel alive when idle.
    if (this.#pending.size === 0) worker.ref();
    const id = ++this.#next;
    return new Promise<ThreadCommit>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ kind: "commit", id, batches } satisfies ThreadRequest);
    });
  }

  /** Lets the thread go (after the groups sent), and waits until it has. */
  async close(): Promise<void> {
    this.#clearIdle();
    const worker = this.#worker;
    if (worker !== null && (this.#state === "ready" || this.#state === "starting")) {
      this.#state = "closing";
      worker.ref();
      worker.postMessage({ kind: "close" } satisfies ThreadRequest);
    }
    await this.#gone;
  }

  #answer(answer: ThreadAnswer): void {
    switch (answer.kind) {
      case "ready":
        if (this.#state === "starting") this.#state = "ready";
        return;
      case "failed":
        this.#state = "broken";
        void this.#worker?.terminate();
        return;
      case "closed":
        void this.#worker?.terminate();
        return;
      case "committed": {
        const pending = this.#pending.get(answer.id);
        if (pending === undefined) return;
        this.#pending.delete(answer.id);
        if (this.#pending.size === 0) {
          this.#worker?.unref();
          this.#resetIdle();
        }
        pending.resolve({
          transactions: answer.transactions,
          errors: answer.errors.map((e) =>
            e === null ? null : libosError(e.code, e.message, e.fields)
          ),
        });
      }
    }
  }

  /** The thread went: what it did not answer fails, and it is started again when needed. */
  #lost(how: string): void {
    const closing = this.#state === "closing";
    this.#worker = null;
    this.#clearIdle();
    if (this.#state !== "broken") this.#state = closing ? "off" : "broken";
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      p.reject(
        libosError(
          "EINTERNAL",
          `Cannot commit to store '${this.#path}': its writer thread ${how} before it answered`,
          { path: this.#path },
        ),
      );
    }
  }

  #resetIdle(): void {
    this.#clearIdle();
    const idle = setTimeout(() => {
      this.#idle = null;
      if (this.#pending.size === 0 && this.#state === "ready") void this.close();
    }, this.#options.idleMs) as unknown as number;
    Deno.unrefTimer(idle);
    this.#idle = idle;
  }

  #clearIdle(): void {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
  }
}
