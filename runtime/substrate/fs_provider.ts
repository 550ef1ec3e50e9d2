/**
 * The filesystem substrate: the seam between the fs primitives (which own the
 * decisions) and the host (which owns the bytes). Implementations:
 * `LocalFilesystem` (a host directory) and `MemoryFilesystem` (tests); both
 * pass `runFilesystemContract`.
 *
 * Paths are workspace-relative and already normalised by `resolvePath` ("" is
 * the workspace root). A provider re-validates them anyway and never touches
 * anything outside its workspace: every operation first resolves symbolic
 * links itself (see {@linkcode resolveRealPath}) and refuses with EPERM a path
 * that leads outside.
 *
 * Errors are {@linkcode LibosError}s that name the workspace path (never a host
 * path): ENOENT when the target (or its parent) does not exist, EEXIST when it
 * exists already, EINVAL for a directory where a file is expected, a file
 * where a directory is expected, or a directory that is not empty, EPERM for a
 * path that leads outside the workspace.
 *
 * @module
 */
import { type ErrorCode, type LibosError, libosError } from "../errors.ts";

/** What a directory entry is. */
export type EntryKind = "file" | "dir" | "symlink";

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  /** The entry itself: a symlink is reported as "symlink", not as its target. */
  kind: EntryKind;
  /** Bytes of a file; 0 for directories and symlinks. */
  size: number;
}

/** Metadata of a path, without following a final symlink (lstat semantics). */
export interface FileStat {
  kind: EntryKind;
  /** Bytes of a file; 0 for directories and symlinks. */
  size: number;
  /** Last modification, epoch milliseconds (0 when the host does not say). */
  mtimeMs: number;
}

/** Options of {@linkcode FilesystemProvider.writeBytes}. */
export interface WriteOptions {
  /** Create missing parent directories (default false: a missing parent is ENOENT). */
  createParents?: boolean;
  /**
   * The path is a real path the caller has just had from
   * {@linkcode FilesystemProvider.realPath} or
   * {@linkcode FilesystemProvider.resolve} (the engine, between its check and
   * its effect): the provider need not resolve it again. It still looks at
   * what is at the path right before writing. Default false.
   */
  resolved?: boolean;
  /**
   * The caller has just seen nothing at the path (with `resolve`): the
   * provider may create the file without looking again, as long as it never
   * replaces what appeared there since (it refuses that with `EPERM`).
   * Default false.
   */
  absent?: boolean;
}

/** Options of {@linkcode FilesystemProvider.mkdir}. */
export interface MkdirOptions {
  /**
   * Create missing parents and accept a directory that exists already
   * (default false: an existing path is EEXIST, a missing parent ENOENT).
   */
  recursive?: boolean;
}

/** Options of {@linkcode FilesystemProvider.remove}. */
export interface RemoveOptions {
  /** Remove a directory with everything in it (default false: a non-empty directory is EINVAL). */
  recursive?: boolean;
}

/** A path's real path and what is there (lstat semantics; null when absent). */
export interface Resolved {
  real: string;
  stat: FileStat | null;
}

/** A workspace as the fs primitives see it. */
export interface FilesystemProvider {
  /** A one-line description for operators, e.g. `local directory /srv/ws`. */
  readonly description: string;
  /**
   * The workspace-relative real path of `path` after following symlinks: for
   * a path that does not exist (yet), the real path of its deepest existing
   * ancestor joined with the rest. Throws EPERM if it leaves the workspace,
   * also through a dangling symlink.
   */
  realPath(path: string): Promise<string>;
  /**
   * Optional: {@linkcode FilesystemProvider.realPath} and the
   * {@linkcode FilesystemProvider.stat} of the real path, in one look (a
   * provider that learns both at once saves the second).
   */
  resolve?(path: string): Promise<Resolved>;
  /** The bytes of a file (following symlinks inside the workspace). */
  readBytes(path: string): Promise<Uint8Array>;
  /**
   * Creates or replaces a file (following symlinks inside the workspace). The
   * data is copied; a later change of the caller's array does not reach it.
   */
  writeBytes(path: string, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** The entries of a directory (following symlinks to it), sorted by name (code units). */
  list(path: string): Promise<DirEntry[]>;
  /** Metadata of a path with lstat semantics (a final symlink is not followed); null if absent. */
  stat(path: string): Promise<FileStat | null>;
  /**
   * Optional: stat of a path the caller has just resolved with
   * {@linkcode FilesystemProvider.realPath} (the engine's state before an
   * effect), without resolving it again. Same answer as `stat`.
   */
  statResolved?(real: string): Promise<FileStat | null>;
  /** Creates a directory. */
  mkdir(path: string, options?: MkdirOptions): Promise<void>;
  /**
   * Removes a file, a symlink (the link itself, never its target) or a
   * directory. The workspace root cannot be removed (EINVAL).
   */
  remove(path: string, options?: RemoveOptions): Promise<void>;
  /**
   * Optional: removes what a write to `path` cut short by a crash left beside
   * it (a provider whose writes go through a temporary file). The kernel
   * calls it when it settles a write found in flight.
   */
  clearInterrupted?(path: string): Promise<void>;
}

/** What {@linkcode SymlinkHost.probe} reports about one host path. */
export type Probe =
  | { kind: "file" | "dir" }
  | { kind: "symlink"; target: string };

/**
 * The host side of {@linkcode resolveRealPath}: where the workspace lives and
 * how to look at one host path without following it.
 */
export interface SymlinkHost {
  /** The segments of the workspace root's real absolute host path (`/srv/ws` → `["srv", "ws"]`). */
  readonly root: readonly string[];
  /** lstat of one absolute host path, given as segments; null if it does not exist. */
  probe(segments: readonly string[]): Promise<Probe | null>;
}

/** Symlinks followed in one resolution before it is refused as a loop (Linux's limit). */
export const MAX_SYMLINK_HOPS = 40;

/**
 * Resolves a normalised workspace path to its real workspace-relative path
 * the way the host kernel would, but one component at a time, so that the
 * result is known to stay inside the workspace: each existing symlink is
 * read and its target (relative to the link's directory, or an absolute host
 * path) is resolved in turn, also when the target does not exist; `..` goes
 * to the physical parent. What does not exist is joined on literally. The
 * returned path holds no symlink in its existing part. Throws EPERM (fields
 * `{path}`) when the result is outside the workspace, EINVAL after
 * {@linkcode MAX_SYMLINK_HOPS} symlinks.
 */
export async function resolveRealPath(path: string, host: SymlinkHost): Promise<string> {
  const root = host.root;
  let current = [...root];
  // A stack of the segments still to walk; the next one is at the end.
  const pending = path.split("/").reverse();
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.pop() as string;
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      current.pop();
      continue;
    }
    const next = [...current, segment];
    const probe = await host.probe(next);
    if (probe?.kind !== "symlink") {
      current = next;
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) {
      throw fsError("EINVAL", "resolve", path, "too many levels of symbolic links");
    }
    if (probe.target.startsWith("/")) current = [];
    pending.push(...probe.target.split("/").reverse());
  }
  const inside = current.length >= root.length && root.every((s, i) => current[i] === s);
  if (!inside) throw fsError("EPERM", "resolve", path, "it leads outside the workspace");
  return current.slice(root.length).join("/");
}

/** An error of a filesystem operation: "Cannot <verb> '<path>': <reason>", with `{path}`. */
export function fsError(
  code: ErrorCode,
  verb: string,
  path: string,
  reason: string,
  cause?: unknown,
): LibosError {
  return libosError(
    code,
    `Cannot ${verb} '${path === "" ? "." : path}': ${reason}`,
    { path },
    cause,
  );
}
