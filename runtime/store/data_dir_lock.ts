/**
 * The lock that gives a data directory to one kernel at a time: an advisory
 * `flock` on `<dir>/kernel.lock`, tried without waiting
 * (`Deno.FsFile.tryLockSync`, which is `flock(LOCK_EX | LOCK_NB)`), so a
 * second kernel is refused at once instead of queueing behind the first.
 *
 * Why `flock`: the OS drops the lock when the last descriptor of the open file
 * closes, so it ends with its process however that ends (exit, crash,
 * SIGKILL) and never needs cleaning up; Deno opens files close-on-exec, so the
 * processes a kernel starts (tool hosts, shell commands) do not inherit it and
 * cannot keep it alive; and the lock belongs to the open file, not to the
 * process, so two opens in one process exclude each other as well. The file
 * is never deleted: unlinking it would let the next kernel lock a new file
 * while the old holder still holds the old one.
 *
 * The holder writes its pid, host name and start time into the file, for the
 * message that refuses the next one.
 *
 * @module
 */
import { join } from "node:path";
import { type LibosError, libosError } from "../errors.ts";

/** The lock file's name inside a data directory. */
export const DATA_DIR_LOCK_FILE = "kernel.lock";

/** The kernel recorded in a lock file: the holder, or the last one. */
export interface DataDirHolder {
  /** Its OS process id. */
  pid: number;
  /** The host it runs on ("" when it could not tell). */
  hostname: string;
  /** When it took the lock (ISO 8601). */
  startedAt: string;
}

/**
 * A held lock on a data directory: exclusive for a kernel, shared for readers
 * that must see the directory with no kernel in it. Release it with `using`,
 * `release()`, or by ending the process.
 *
 * @example
 * ```ts
 * import { DataDirLock } from "../mod.ts";
 * const dir = await Deno.makeTempDir();
 * {
 *   using lock = DataDirLock.acquire(dir);
 *   console.log(lock.mode); // exclusive: a second acquire throws EBUSY
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DataDirLock implements Disposable {
  /** The data directory. */
  readonly dir: string;
  /** The lock file, `<dir>/kernel.lock`. */
  readonly path: string;
  /** "exclusive" for a kernel, "shared" for readers. */
  readonly mode: "exclusive" | "shared";

  #file: Deno.FsFile;
  #state: "held" | "released" = "held";

  private constructor(file: Deno.FsFile, dir: string, mode: "exclusive" | "shared") {
    this.#file = file;
    this.dir = dir;
    this.path = join(dir, DATA_DIR_LOCK_FILE);
    this.mode = mode;
  }

  /**
   * Takes the directory for this process, without waiting, and records this
   * process as its holder. Throws `EBUSY` naming the holder when another
   * kernel holds it (or readers do), `ENOENT` when the directory is missing.
   */
  static acquire(dir: string): DataDirLock {
    const path = join(dir, DATA_DIR_LOCK_FILE);
    const file = _open(dir, () => Deno.openSync(path, { read: true, write: true, create: true }));
    try {
      if (!file.tryLockSync(true)) throw _busy(dir, path);
      _writeHolder(file, {
        pid: Deno.pid,
        hostname: _hostname(),
        startedAt: new Date().toISOString(),
      });
    } catch (error) {
      file.close();
      throw error;
    }
    return new DataDirLock(file, dir, "exclusive");
  }

  /**
   * Takes a shared lock, without waiting, when no kernel holds the directory:
   * while it is held, no kernel can start there. Returns null when a kernel
   * holds it. Creates the lock file (empty) when no kernel has used the
   * directory yet; `ENOENT` when the directory is missing.
   */
  static acquireShared(dir: string): DataDirLock | null {
    const path = join(dir, DATA_DIR_LOCK_FILE);
    const file = _open(dir, () => {
      try {
        return Deno.openSync(path, { read: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        return Deno.openSync(path, { read: true, write: true, create: true });
      }
    });
    let locked: boolean;
    try {
      locked = file.tryLockSync(false);
    } catch (error) {
      file.close();
      throw error;
    }
    if (!locked) {
      file.close();
      return null;
    }
    return new DataDirLock(file, dir, "shared");
  }

  /**
   * The kernel a directory's lock file names: the holder while the lock is
   * held, else the last holder. Null when there is no lock file or it names
   * no one.
   */
  static holder(dir: string): DataDirHolder | null {
    try {
      return _parseHolder(Deno.readTextFileSync(join(dir, DATA_DIR_LOCK_FILE)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  /** True until released. */
  get held(): boolean {
    return this.#state === "held";
  }

  /** Releases the lock. Idempotent. The lock file stays. */
  release(): void {
    if (this.#state === "released") return;
    this.#state = "released";
    this.#file.close();
  }

  /** Releases the lock. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** Opens the lock file, turning a missing directory into `ENOENT`. */
function _open(dir: string, open: () => Deno.FsFile): Deno.FsFile {
  try {
    return open();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw libosError(
        "ENOENT",
        `Cannot lock data directory '${dir}': it does not exist`,
        { path: dir },
        error,
      );
    }
    throw error;
  }
}

/** The error for a directory someone else holds, naming the holder. */
function _busy(dir: string, path: string): LibosError {
  if (_onlyReaders(path)) {
    return libosError(
      "EBUSY",
      `Cannot lock data directory '${dir}': a reader (libos verify) has it; try again when it ends`,
      { path: dir },
    );
  }
  const holder = _awaitHolder(dir);
  const who = holder === null
    ? "pid unknown"
    : `pid ${holder.pid}${holder.hostname === "" ? "" : ` on ${holder.hostname}`}, ` +
      `started ${holder.startedAt}`;
  return libosError(
    "EBUSY",
    `Cannot lock data directory '${dir}': it is in use by another kernel (${who}); stop it first`,
    { path: dir, holder },
  );
}

/** True when the holders hold the lock shared: readers, not a kernel. */
function _onlyReaders(path: string): boolean {
  let probe: Deno.FsFile;
  try {
    probe = Deno.openSync(path, { read: true });
  } catch {
    return false;
  }
  try {
    return probe.tryLockSync(false);
  } finally {
    probe.close();
  }
}

/**
 * The holder's record. A kernel writes it just after it takes the lock, so a
 * refused kernel may read the file in between: it retries for up to 100 ms.
 */
function _awaitHolder(dir: string): DataDirHolder | null {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0;; attempt++) {
    const holder = DataDirLock.holder(dir);
    if (holder !== null || attempt === 10) return holder;
    // A synchronous sleep: acquire is synchronous, and this is a rare race.
    Atomics.wait(pause, 0, 0, 10);
  }
}

function _writeHolder(file: Deno.FsFile, holder: DataDirHolder): void {
  file.truncateSync(0);
  let bytes = new TextEncoder().encode(`${JSON.stringify(holder)}\n`);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

function _parseHolder(text: string): DataDirHolder | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const { pid, hostname, startedAt } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(pid) || typeof hostname !== "string") return null;
  if (typeof startedAt !== "string") return null;
  return { pid: pid as number, hostname, startedAt };
}

function _hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return ""; // no --allow-sys: the pid alone names the holder
  }
}
