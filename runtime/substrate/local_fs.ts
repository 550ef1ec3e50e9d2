/**
 * A {@linkcode FilesystemProvider} over a host directory (POSIX hosts).
 *
 * Every operation resolves its path first and works on the resulting real
 * path, so a symlink that leads outside the workspace is refused before
 * anything is read or written. The common case takes two host calls: the
 * host's `realpath` of the parent directory, which must come back as the
 * literal path under the workspace root (then no component of it is a
 * symlink), and an lstat of the last component, which must not be a symlink.
 * Anything else (a symlink on the way, a missing parent, a name the host
 * spells differently) takes {@linkcode resolveRealPath}: one lstat/readlink
 * per component, symlinks followed by this code, not by the host. Both are a
 * check at one instant; nothing resolved is cached, so a symlink planted
 * later is seen by the next operation. A write checks the final component
 * again right before writing and creates new files with `createNew` (O_EXCL,
 * which never follows a symlink), so a symlink planted in the meantime is
 * refused rather than followed; a write whose caller saw nothing at the path
 * (`absent`, the engine's common case) skips that second look and hard-links
 * its new file into place, which fails on anything that appeared and then
 * looks, so nothing is followed either. A rename race on an intermediate
 * directory between the check and the host call
 * remains possible; a deployment that shares its workspace with hostile host
 * processes should inject a container-backed provider instead.
 *
 * Metadata calls (lstat, readlink, realpath) and the writes of small files
 * (up to {@linkcode SYNC_WRITE_BYTES}: the new file and its rename) are
 * synchronous: each takes a few microseconds on a local disk, where the
 * asynchronous form costs a thread hand-off of about 100 µs and dominated a
 * step's time (a lone agent's step, one small write: p50 1.15 → 0.9 ms). A
 * workspace on a network filesystem, or a disk slow to create files, would
 * block the event loop for as long as those calls take. Reads, larger writes
 * and directory listings stay asynchronous.
 *
 * Error messages name workspace paths, never host paths.
 *
 * @module
 */
import { type ErrorCode, LibosError, libosError } from "../errors.ts";
import {
  type DirEntry,
  type FileStat,
  type FilesystemProvider,
  fsError,
  type MkdirOptions,
  type Probe,
  type RemoveOptions,
  type Resolved,
  resolveRealPath,
  type SymlinkHost,
  type WriteOptions,
} from "./fs_provider.ts";
import { resolvePath } from "./workspace_path.ts";

/** Writes up to this size are made synchronously (see the module doc). */
export const SYNC_WRITE_BYTES = 64 * 1024;

/** A workspace in a host directory. */
export class LocalFilesystem implements FilesystemProvider {
  /** See {@linkcode FilesystemProvider.description}. */
  readonly description: string;
  readonly #rootDir: string;
  #rootReal: Promise<string> | null = null;

  /** `rootDir` must exist; it is resolved to its real path on first use. */
  constructor(rootDir: string) {
    this.#rootDir = rootDir;
    this.description = `local directory ${rootDir}`;
  }

  /** See {@linkcode FilesystemProvider.realPath}. */
  async realPath(path: string): Promise<string> {
    const normal = resolvePath("", path);
    const root = await this.#realRoot();
    return _literalReal(root, normal)?.real ?? await resolveRealPath(normal, this.#host(root));
  }

  /** See {@linkcode FilesystemProvider.resolve}: the common case's lstat is the stat. */
  async resolve(path: string): Promise<Resolved> {
    const normal = resolvePath("", path);
    const root = await this.#realRoot();
    const literal = _literalReal(root, normal);
    if (literal !== null) {
      const stat = literal.info === undefined
        ? await this.statResolved(literal.real)
        : _fileStat(literal.info);
      return { real: literal.real, stat };
    }
    const real = await resolveRealPath(normal, this.#host(root));
    return { real, stat: await this.statResolved(real) };
  }

  /** See {@linkcode FilesystemProvider.readBytes}. */
  async readBytes(path: string): Promise<Uint8Array> {
    const host = await this.#hostPath(await this.realPath(path));
    let file: Deno.FsFile;
    try {
      file = await Deno.open(host, { read: true });
    } catch (error) {
      throw _mapHostError(error, "read", path);
    }
    try {
      // A folder on the way may have been swapped for a symlink between the
      // check and the open: the file opened must be the one the path resolves
      // to inside the workspace now (same device and inode), or nothing is read.
      const opened = await file.stat();
      const again = _lstat(await this.#hostPath(await this.realPath(path)), "read", path);
      if (again === null || again.dev !== opened.dev || again.ino !== opened.ino) {
        throw fsError("EPERM", "read", path, "it changed while it was being read");
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of file.readable) {
        chunks.push(chunk);
        size += chunk.length;
      }
      const out = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    } catch (error) {
      throw error instanceof LibosError ? error : _mapHostError(error, "read", path);
    } finally {
      try {
        file.close();
      } catch {
        // Closed by its readable stream already.
      }
    }
  }

  /** See {@linkcode FilesystemProvider.writeBytes}. */
  async writeBytes(path: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const verb = "write";
    const real = options.resolved === true ? resolvePath("", path) : await this.realPath(path);
    if (real === "") throw fsError("EINVAL", verb, path, "it is a directory");
    const host = await this.#hostPath(real);
    // Checked again right before the write (realPath looked a moment ago),
    // unless the caller saw nothing there: then the new file is linked into
    // place, which refuses whatever appeared meanwhile (see `_linkNew`). A
    // file there has a directory for its parent; without one the parent is
    // looked at.
    const unchecked = options.absent === true && data.length <= SYNC_WRITE_BYTES;
    let existing = unchecked ? null : _lstat(host, verb, path);
    const parent = existing === null
      ? _lstat(await this.#hostPath(_parentOf(real)), verb, path)
      : null;
    if (existing === null && parent === null) {
      if (options.createParents !== true) {
        throw fsError("ENOENT", verb, path, "its parent directory does not exist");
      }
      await this.mkdir(_parentOf(real), { recursive: true });
      // Check again after the folders were made: the path must still resolve
      // to the same place.
      if (await this.realPath(path) !== real) {
        throw fsError("EPERM", verb, path, "it changed while it was being written");
      }
      existing = _lstat(host, verb, path);
    } else if (parent !== null && !parent.isDirectory) {
      throw fsError("EINVAL", verb, path, "a parent is not a directory");
    }
    if (existing?.isDirectory) throw fsError("EINVAL", verb, path, "it is a directory");
    if (existing?.isSymlink) {
      throw fsError("EPERM", verb, path, "it changed while it was being written");
    }
    // Atomic: the bytes go to a new file beside the target, which then
    // replaces it in one rename. A crash leaves the target either as it was
    // or as written, never cut short, so a write found in flight can be
    // settled from what the file holds.
    const tmp = `${host}.libos-${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      const options = {
        createNew: true,
        ...(existing?.mode == null ? {} : { mode: existing.mode & 0o7777 }),
      };
      // A rename replaces the directory entry itself: whatever appeared there
      // in the meantime (a symlink included) is replaced, never followed.
      if (data.length <= SYNC_WRITE_BYTES) {
        Deno.writeFileSync(tmp, data, options);
        if (unchecked && existing === null) _linkNew(tmp, host, verb, path);
        else Deno.renameSync(tmp, host);
      } else {
        await Deno.writeFile(tmp, data, options);
        await Deno.rename(tmp, host);
      }
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw _mapHostError(error, verb, path);
    }
  }

  /** See {@linkcode FilesystemProvider.list}. */
  async list(path: string): Promise<DirEntry[]> {
    const host = await this.#hostPath(await this.realPath(path));
    const out: DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(host)) {
        if (entry.isSymlink) out.push({ name: entry.name, kind: "symlink", size: 0 });
        else if (entry.isDirectory) out.push({ name: entry.name, kind: "dir", size: 0 });
        else {
          const info = _lstat(`${host}/${entry.name}`, "list", path);
          out.push({ name: entry.name, kind: "file", size: info?.size ?? 0 });
        }
      }
    } catch (error) {
      throw _mapHostError(error, "list", path);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** See {@linkcode FilesystemProvider.stat}. */
  async stat(path: string): Promise<FileStat | null> {
    return _fileStat(_lstat(await this.#unfollowed(path, "stat"), "stat", path));
  }

  /** See {@linkcode FilesystemProvider.clearInterrupted}: the `<name>.libos-*.tmp` beside it. */
  async clearInterrupted(path: string): Promise<void> {
    const real = await this.realPath(path);
    if (real === "") return;
    const dir = await this.#hostPath(_parentOf(real));
    const prefix = `${real.slice(real.lastIndexOf("/") + 1)}.libos-`;
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && entry.name.startsWith(prefix) && entry.name.endsWith(".tmp")) {
          await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
        }
      }
    } catch {
      // No folder: nothing was left.
    }
  }

  /** See {@linkcode FilesystemProvider.statResolved}: one lstat, no resolution. */
  async statResolved(real: string): Promise<FileStat | null> {
    return _fileStat(_lstat(await this.#hostPath(resolvePath("", real)), "stat", real));
  }

  /** See {@linkcode FilesystemProvider.mkdir}. */
  async mkdir(path: string, options: MkdirOptions = {}): Promise<void> {
    const verb = "create directory";
    const host = await this.#hostPath(await this.realPath(path));
    const existing = _lstat(host, verb, path);
    if (existing !== null) {
      if (existing.isDirectory && options.recursive === true) return;
      throw fsError("EEXIST", verb, path, "it exists already");
    }
    try {
      await Deno.mkdir(host, { recursive: options.recursive === true });
    } catch (error) {
      if (_hostCode(error) === "EEXIST" && options.recursive === true) {
        throw fsError("EINVAL", verb, path, "a parent is not a directory", error);
      }
      if (_hostCode(error) === "ENOENT") {
        throw fsError("ENOENT", verb, path, "its parent directory does not exist", error);
      }
      throw _mapHostError(error, verb, path);
    }
  }

  /** See {@linkcode FilesystemProvider.remove}. */
  async remove(path: string, options: RemoveOptions = {}): Promise<void> {
    const host = await this.#unfollowed(path, "remove");
    if (_lstat(host, "remove", path) === null) {
      throw fsError("ENOENT", "remove", path, "it does not exist");
    }
    try {
      // Deno.remove unlinks a symlink itself and never follows one when recursing.
      await Deno.remove(host, { recursive: options.recursive === true });
    } catch (error) {
      throw _mapHostError(error, "remove", path);
    }
  }

  /**
   * Creates a symlink at `path` pointing to `target` (as written: relative to
   * the link's directory, or an absolute host path). For tests and fixtures.
   */
  async symlink(target: string, path: string): Promise<void> {
    const host = await this.#unfollowed(path, "create symlink");
    try {
      await Deno.symlink(target, host);
    } catch (error) {
      throw _mapHostError(error, "create symlink", path);
    }
  }

  /** The host path of a path whose parent is resolved and whose last component is not followed. */
  async #unfollowed(path: string, verb: string): Promise<string> {
    const normal = resolvePath("", path);
    if (normal === "") {
      if (verb === "stat") return await this.#hostPath("");
      throw fsError("EINVAL", verb, path, "it is the workspace root");
    }
    const parent = await this.realPath(_parentOf(normal));
    const name = normal.slice(normal.lastIndexOf("/") + 1);
    return await this.#hostPath(parent === "" ? name : `${parent}/${name}`);
  }

  async #hostPath(real: string): Promise<string> {
    const root = await this.#realRoot();
    return real === "" ? root : `${root}/${real}`;
  }

  #realRoot(): Promise<string> {
    this.#rootReal ??= Deno.realPath(this.#rootDir).catch((error: unknown) => {
      this.#rootReal = null;
      // The host path stays out of the message: messages reach agents.
      throw libosError(
        "ENOENT",
        "Cannot open the workspace: its directory does not exist",
        undefined,
        error,
      );
    });
    return this.#rootReal;
  }

  #host(rootReal: string): SymlinkHost {
    return {
      root: rootReal.split("/").filter((s) => s !== ""),
      probe: (segments): Promise<Probe | null> => {
        const host = `/${segments.join("/")}`;
        try {
          const info = Deno.lstatSync(host);
          if (info.isSymlink) {
            return Promise.resolve({ kind: "symlink", target: Deno.readLinkSync(host) });
          }
          return Promise.resolve({ kind: info.isDirectory ? "dir" : "file" });
        } catch {
          // Absent, or not searchable: the walk joins the rest on literally, still
          // checks that it ends inside, and the operation itself reports the host's error.
          return Promise.resolve(null);
        }
      },
    };
  }
}

function _parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

/**
 * The real path of a normalised workspace path when the host spells it
 * literally: its parent's host `realpath` is the literal host path (no
 * symlink on the way, inside the root) and its last component is absent or
 * not a symlink; with the lstat of that last component (null when absent,
 * undefined for the root, which is not looked at).
 * Null when that does not hold (the caller then walks the path one component
 * at a time); never a wrong answer.
 */
function _literalReal(
  root: string,
  normal: string,
): { real: string; info: Deno.FileInfo | null | undefined } | null {
  // The root is not looked at (undefined): most callers only want its path.
  if (normal === "") return { real: "", info: undefined };
  const slash = normal.lastIndexOf("/");
  if (slash !== -1) {
    const parent = `${root}/${normal.slice(0, slash)}`;
    try {
      if (Deno.realPathSync(parent) !== parent) return null;
    } catch {
      return null;
    }
  }
  try {
    const info = Deno.lstatSync(`${root}/${normal}`);
    return info.isSymlink ? null : { real: normal, info };
  } catch (error) {
    return _hostCode(error) === "ENOENT" ? { real: normal, info: null } : null;
  }
}

/**
 * Puts the new file `tmp` at `host`, where nothing was a moment ago: a hard
 * link, which fails when anything is there now and never follows it. Then
 * (or where the host has no hard links) what is there is looked at, as the
 * check before a write does: a symlink is refused as a change, a directory
 * is refused, a file is replaced by a rename (keeping its mode), as a write
 * over an existing file is.
 */
function _linkNew(tmp: string, host: string, verb: string, path: string): void {
  try {
    Deno.linkSync(tmp, host);
  } catch {
    const now = _lstat(host, verb, path);
    if (now?.isSymlink) {
      throw fsError("EPERM", verb, path, "it changed while it was being written");
    }
    if (now?.isDirectory) throw fsError("EINVAL", verb, path, "it is a directory");
    if (now?.mode != null) Deno.chmodSync(tmp, now.mode & 0o7777);
    Deno.renameSync(tmp, host);
    return;
  }
  try {
    Deno.removeSync(tmp);
  } catch {
    // Written; the stray name is cleared as a cut-short write's would be.
  }
}

/** lstat, with null for a path that does not exist (or whose parent is not a directory). */
function _lstat(host: string, verb: string, path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(host);
  } catch (error) {
    const code = _hostCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw _mapHostError(error, verb, path);
  }
}

function _hostCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const _HOST_ERRORS: Record<string, [ErrorCode, string]> = {
  ENOENT: ["ENOENT", "it does not exist"],
  EEXIST: ["EEXIST", "it exists already"],
  EISDIR: ["EINVAL", "it is a directory"],
  ENOTDIR: ["EINVAL", "it or a parent is not a directory"],
  ENOTEMPTY: ["EINVAL", "the directory is not empty"],
  ELOOP: ["EINVAL", "too many levels of symbolic links"],
  EACCES: ["EPERM", "the host refused access"],
  EPERM: ["EPERM", "the host refused access"],
  EROFS: ["EPERM", "the host filesystem is read-only"],
};

/** A host error as a LibosError naming the workspace path (the host message names host paths). */
function _mapHostError(error: unknown, verb: string, path: string) {
  if (error instanceof LibosError) return error;
  const code = _hostCode(error);
  const known = code === undefined ? undefined : _HOST_ERRORS[code];
  if (known !== undefined) return fsError(known[0], verb, path, known[1], error);
  const name = error instanceof Error ? error.name : "unknown error";
  return fsError("EINTERNAL", verb, path, `the host failed (${code ?? name})`, error);
}

/** A host lstat as the provider reports it. */
function _fileStat(info: Deno.FileInfo | null): FileStat | null {
  if (info === null) return null;
  const kind = info.isSymlink ? "symlink" : info.isDirectory ? "dir" : "file";
  return { kind, size: kind === "file" ? info.size : 0, mtimeMs: info.mtime?.getTime() ?? 0 };
}
