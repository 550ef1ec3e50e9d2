/**
 * An in-memory {@linkcode FilesystemProvider} for tests: files, directories
 * and symlinks with the semantics of `LocalFilesystem`. The workspace is
 * mounted at a host path (default `/workspace`) so that absolute symlink
 * targets mean what they mean on a host: a target under the mount leads
 * inside, anything else leads outside (where nothing exists).
 *
 * @module
 */
import {
  type DirEntry,
  type FileStat,
  type FilesystemProvider,
  fsError,
  type MkdirOptions,
  type Probe,
  type RemoveOptions,
  resolveRealPath,
  type SymlinkHost,
  type WriteOptions,
} from "./fs_provider.ts";
import { resolvePath } from "./workspace_path.ts";

interface _File {
  kind: "file";
  data: Uint8Array;
  mtimeMs: number;
}

interface _Dir {
  kind: "dir";
  children: Map<string, _Node>;
  mtimeMs: number;
}

interface _Link {
  kind: "symlink";
  target: string;
  mtimeMs: number;
}

type _Node = _File | _Dir | _Link;

/** Options of {@linkcode MemoryFilesystem}. */
export interface MemoryFilesystemOptions {
  /** The absolute host path the workspace pretends to live at (default `/workspace`). */
  mount?: string;
  /** The clock for modification times (default `Date.now`). */
  now?: () => number;
}

/** An in-memory workspace. */
export class MemoryFilesystem implements FilesystemProvider {
  /** See {@linkcode FilesystemProvider.description}. */
  readonly description: string;
  #root: _Dir;
  #now: () => number;
  #host: SymlinkHost;

  constructor(options: MemoryFilesystemOptions = {}) {
    const mount = options.mount ?? "/workspace";
    if (!mount.startsWith("/")) {
      throw new TypeError(`MemoryFilesystem mount must be an absolute path, got '${mount}'`);
    }
    this.#now = options.now ?? Date.now;
    this.#root = { kind: "dir", children: new Map(), mtimeMs: this.#now() };
    this.description = `in-memory workspace at ${mount}`;
    const root = mount.split("/").filter((s) => s !== "");
    this.#host = { root, probe: (segments) => Promise.resolve(this.#probe(root, segments)) };
  }

  /** See {@linkcode FilesystemProvider.realPath}. */
  realPath(path: string): Promise<string> {
    return resolveRealPath(resolvePath("", path), this.#host);
  }

  /** See {@linkcode FilesystemProvider.readBytes}. */
  async readBytes(path: string): Promise<Uint8Array> {
    const node = this.#lookup(await this.realPath(path));
    if (node === undefined) throw fsError("ENOENT", "read", path, "it does not exist");
    if (node.kind !== "file") throw fsError("EINVAL", "read", path, "it is a directory");
    return node.data.slice();
  }

  /** See {@linkcode FilesystemProvider.writeBytes}. */
  async writeBytes(path: string, data: Uint8Array, options: WriteOptions = {}): Promise<void> {
    const real = await this.realPath(path);
    if (real === "") throw fsError("EINVAL", "write", path, "it is a directory");
    const { parent, name } = _split(real);
    let dir = this.#lookup(parent);
    if (dir === undefined && options.createParents === true) {
      dir = this.#makeDirs(parent, path, "write");
    }
    if (dir === undefined) {
      throw fsError("ENOENT", "write", path, "its parent directory does not exist");
    }
    if (dir.kind !== "dir") throw fsError("EINVAL", "write", path, "a parent is not a directory");
    if (dir.children.get(name)?.kind === "dir") {
      throw fsError("EINVAL", "write", path, "it is a directory");
    }
    const now = this.#now();
    dir.children.set(name, { kind: "file", data: data.slice(), mtimeMs: now });
    dir.mtimeMs = now;
  }

  /** See {@linkcode FilesystemProvider.list}. */
  async list(path: string): Promise<DirEntry[]> {
    const node = this.#lookup(await this.realPath(path));
    if (node === undefined) throw fsError("ENOENT", "list", path, "it does not exist");
    if (node.kind !== "dir") throw fsError("EINVAL", "list", path, "it is not a directory");
    return [...node.children]
      .map(([name, child]) => ({ name, kind: child.kind, size: _size(child) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** See {@linkcode FilesystemProvider.stat}. */
  async stat(path: string): Promise<FileStat | null> {
    const node = await this.#lstat(path);
    if (node === undefined) return null;
    return { kind: node.kind, size: _size(node), mtimeMs: node.mtimeMs };
  }

  /** See {@linkcode FilesystemProvider.mkdir}. */
  async mkdir(path: string, options: MkdirOptions = {}): Promise<void> {
    const real = await this.realPath(path);
    const existing = this.#lookup(real);
    if (existing !== undefined) {
      if (existing.kind === "dir" && options.recursive === true) return;
      throw fsError("EEXIST", "create directory", path, "it exists already");
    }
    if (options.recursive === true) {
      this.#makeDirs(real, path, "create directory");
      return;
    }
    const { parent, name } = _split(real);
    const dir = this.#lookup(parent);
    if (dir === undefined) {
      throw fsError("ENOENT", "create directory", path, "its parent directory does not exist");
    }
    if (dir.kind !== "dir") {
      throw fsError("EINVAL", "create directory", path, "a parent is not a directory");
    }
    const now = this.#now();
    dir.children.set(name, { kind: "dir", children: new Map(), mtimeMs: now });
    dir.mtimeMs = now;
  }

  /** See {@linkcode FilesystemProvider.remove}. */
  async remove(path: string, options: RemoveOptions = {}): Promise<void> {
    const { dir, name } = await this.#parentOf(path, "remove");
    const node = dir?.children.get(name);
    if (dir === undefined || node === undefined) {
      throw fsError("ENOENT", "remove", path, "it does not exist");
    }
    if (node.kind === "dir" && node.children.size > 0 && options.recursive !== true) {
      throw fsError("EINVAL", "remove", path, "the directory is not empty");
    }
    dir.children.delete(name);
    dir.mtimeMs = this.#now();
  }

  /**
   * Creates a symlink at `path` pointing to `target` (relative to the link's
   * directory, or an absolute host path). The final component of `path` is
   * not followed. For tests and fixtures.
   */
  async symlink(target: string, path: string): Promise<void> {
    const { dir, name } = await this.#parentOf(path, "create symlink");
    if (dir === undefined) {
      throw fsError("ENOENT", "create symlink", path, "its parent directory does not exist");
    }
    if (dir.children.has(name)) {
      throw fsError("EEXIST", "create symlink", path, "it exists already");
    }
    const now = this.#now();
    dir.children.set(name, { kind: "symlink", target, mtimeMs: now });
    dir.mtimeMs = now;
  }

  /** The node at a path, not following a final symlink. */
  async #lstat(path: string): Promise<_Node | undefined> {
    if (resolvePath("", path) === "") return this.#root;
    const { dir, name } = await this.#parentOf(path, "stat");
    return dir?.children.get(name);
  }

  /** The real parent directory of a (non-root) path and the path's last name. */
  async #parentOf(path: string, verb: string): Promise<{ dir: _Dir | undefined; name: string }> {
    const normal = resolvePath("", path);
    if (normal === "") throw fsError("EINVAL", verb, path, "it is the workspace root");
    const { parent, name } = _split(normal);
    const node = this.#lookup(await this.realPath(parent));
    return { dir: node?.kind === "dir" ? node : undefined, name };
  }

  /** The node at a real (symlink-free) workspace path. */
  #lookup(real: string): _Node | undefined {
    let node: _Node = this.#root;
    if (real === "") return node;
    for (const segment of real.split("/")) {
      if (node.kind !== "dir") return undefined;
      const child: _Node | undefined = node.children.get(segment);
      if (child === undefined) return undefined;
      node = child;
    }
    return node;
  }

  /** mkdir -p of a real path; a file in the way is EINVAL. */
  #makeDirs(real: string, path: string, verb: string): _Dir {
    let dir = this.#root;
    if (real === "") return dir;
    for (const segment of real.split("/")) {
      let child = dir.children.get(segment);
      if (child === undefined) {
        child = { kind: "dir", children: new Map(), mtimeMs: this.#now() };
        dir.children.set(segment, child);
        dir.mtimeMs = child.mtimeMs;
      }
      if (child.kind !== "dir") throw fsError("EINVAL", verb, path, "a parent is not a directory");
      dir = child;
    }
    return dir;
  }

  /** lstat of an absolute host path: the mount's ancestors are directories, nothing else exists. */
  #probe(root: readonly string[], segments: readonly string[]): Probe | null {
    const underMount = segments.length >= root.length && root.every((s, i) => segments[i] === s);
    if (!underMount) {
      const ancestor = segments.every((s, i) => root[i] === s);
      return ancestor ? { kind: "dir" } : null;
    }
    const node = this.#lookup(segments.slice(root.length).join("/"));
    if (node === undefined) return null;
    return node.kind === "symlink" ? { kind: "symlink", target: node.target } : { kind: node.kind };
  }
}

function _split(path: string): { parent: string; name: string } {
  const slash = path.lastIndexOf("/");
  return slash === -1
    ? { parent: "", name: path }
    : { parent: path.slice(0, slash), name: path.slice(slash + 1) };
}

function _size(node: _Node): number {
  return node.kind === "file" ? node.data.byteLength : 0;
}
