/**
 * The filesystem view of a `shell.run`: what the program may see of the
 * workspace, computed from the process's fs grants by walking the real cwd
 * subtree, and how the shell provider applies that view as bubblewrap mounts.
 *
 * Computing ({@linkcode computeShellView}). Every entry of the cwd subtree
 * (directories and files; symlinks are not followed) gets a mode from two
 * decisions on its resource `fs:<path>` (`fs:.` for the workspace root):
 *
 * - `rw` when read and write are both allowed (for a directory, write must
 *   also be allowed on a new entry inside it, {@linkcode NEW_ENTRY_PROBE},
 *   since a writable directory lets the program create any name there);
 * - `ro` when read is allowed and write is not;
 * - `hidden` when read is not allowed (denied, or no grant). Write without
 *   read is `hidden` too: a program cannot write what it cannot see, and a
 *   write-only bind cannot be expressed as a mount.
 *
 * A right is allowed only when its decision is `allow` from a grant with
 * unlimited uses. A decision `ask`, or an `allow` from a grant with counted
 * uses, is *gating*: it is reported in {@linkcode ShellView.gating} (once per
 * grant) and treated as not allowed, unless the kernel names the grant in
 * `granted` (it asked the human, or will spend the use, for this run). A
 * write right is not consulted where read is denied outright, so a write
 * grant under a read deny never gates.
 *
 * A symlink is judged as its target (its real path) when that target lies
 * inside the cwd subtree, and is `hidden` otherwise (also when it dangles).
 * The provider never mounts over a symlink: inside the sandbox it resolves
 * within the view, so it shows exactly what its target's entry shows.
 *
 * The result is compressed: a directory whose whole subtree has its own mode
 * is one entry; otherwise the directory is listed with its own mode, followed
 * by its children (each compressed the same way). Entries come parents first,
 * children in name order. A file that the program creates later inside an
 * `rw` directory is allowed; a file that appears in the workspace between the
 * walk and the run shows with its directory's mode.
 *
 * Applying ({@linkcode viewMountArgs}), in order from the top, so that a
 * deeper mount overrides a shallower one:
 *
 * - a `ro` / `rw` entry (directory or file): `--ro-bind` / `--bind` of its
 *   host path at `/workspace/<path>`;
 * - a `hidden` directory: an empty `--tmpfs` when its parent is bound (or it
 *   is the cwd itself), remounted read-only after every other mount; under a
 *   hidden parent it is not mounted at all (it exists only if a visible entry
 *   lies below it, as the directory holding that mount);
 * - a `hidden` file under a bound directory: the host's `/dev/null` bound over
 *   it read-only (bubblewrap's binds are `nodev`, so opening it fails with
 *   EACCES); under a hidden directory nothing (it does not exist there).
 *
 * @module
 */
import { isAbsolute, join, relative, sep } from "node:path";
import { libosError } from "../errors.ts";
import { fsResource } from "./workspace_path.ts";

/**
 * The name a directory's new entries are judged by: a directory is writable
 * in the view only when a file of this name inside it could be written.
 */
export const NEW_ENTRY_PROBE = ".libos-new-entry";

/** How one entry shows inside the sandbox. */
export type ViewMode = "rw" | "ro" | "hidden";

/** One path of the view. Its mode covers its whole subtree except the entries listed below it. */
export interface ViewEntry {
  /** Workspace-relative, in normal form ("" is the workspace root). */
  path: string;
  mode: ViewMode;
  kind: "dir" | "file";
}

/** A grant the view depends on that the kernel must ask for, or spend, before the run. */
export interface GatingGrant {
  grantId: string;
  /** The grant's resource pattern, e.g. `fs:secret/**`. */
  resource: string;
  /** "ask": its effect is ask; "uses": it allows with a counted number of uses. */
  reason: "ask" | "uses";
}

/** What a run may see of its cwd subtree. */
export interface ShellView {
  /** Parents first; the first entry is the cwd itself. */
  entries: ViewEntry[];
  /** Grants treated as not allowing, deduplicated by grant id, in the order met. */
  gating: GatingGrant[];
  /** How many paths the walk visited (the cwd included). */
  walked: number;
}

/** The kernel's decision for one fs resource and right (the shape of `decide` in capability.ts). */
export type ShellViewDecide = (
  resource: string,
  right: "read" | "write",
) => {
  decision: "allow" | "deny" | "ask";
  grant: { id: string; resource: string; uses: number | null } | null;
};

/** Options of {@linkcode computeShellView}. */
export interface ShellViewOptions {
  /** The workspace: an absolute host directory. */
  workspace: string;
  /** The run's working directory: workspace-relative, normal form, already a real path. */
  cwd: string;
  /** Decides one right on one `fs:` resource for the process. */
  decide: ShellViewDecide;
  /** Most paths walked (default {@linkcode DEFAULT_SHELL_VIEW_MAX_ENTRIES}); past it: ELIMIT. */
  maxEntries?: number;
  /**
   * Optional: whether every path strictly below `path` is decided the same
   * way (no grant could tell two of them apart). Such a subtree is not
   * walked: its entries take the mode of any path in it, so a large uniform
   * folder (a `node_modules`) costs one directory listing at most.
   */
  uniformBelow?: (path: string) => boolean;
  /**
   * Ids of gating grants the kernel has already asked for or spent for this
   * run: their `ask` or counted `allow` counts as allowed (default none).
   */
  granted?: ReadonlySet<string>;
}

/** Default of {@linkcode ShellViewOptions.maxEntries}. */
export const DEFAULT_SHELL_VIEW_MAX_ENTRIES = 10_000;

/** Where the workspace appears inside the sandbox. */
export const SANDBOX_WORKSPACE = "/workspace";

/**
 * Walks the real cwd subtree of `workspace` and computes what a program run
 * there may see, as described in the module doc. Throws ENOENT when the cwd
 * does not exist, EINVAL when it is not a directory or not a real path (a
 * symlink on the way), ELIMIT when the subtree holds more than `maxEntries`
 * paths.
 */
export async function computeShellView(options: ShellViewOptions): Promise<ShellView> {
  const { cwd, decide } = options;
  const maxEntries = options.maxEntries ?? DEFAULT_SHELL_VIEW_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`Cannot compute a shell view: maxEntries must be a positive integer`);
  }
  if (!isAbsolute(options.workspace)) {
    throw new TypeError(`Cannot compute a shell view: the workspace must be an absolute path`);
  }
  if (!isNormalPath(cwd)) {
    throw libosError("EINVAL", `Cannot view '${cwd}': expected a normalised workspace path`, {
      path: String(cwd),
    });
  }
  const workspace = await Deno.realPath(options.workspace);
  const rootHost = join(workspace, cwd);
  await _checkRealDirectory(rootHost, cwd);

  const granted = options.granted ?? new Set<string>();
  const gating = new Map<string, GatingGrant>();
  const modes = new Map<string, ViewMode>();
  /** "yes", "gated" (reported in gating, not allowed), or "no". */
  const allowed = (path: string, right: "read" | "write"): "yes" | "gated" | "no" => {
    const { decision, grant } = decide(fsResource(path), right);
    if (decision === "deny" || grant === null) return "no";
    if (decision === "allow" && grant.uses === null) return "yes";
    if (granted.has(grant.id)) return "yes";
    if (!gating.has(grant.id)) {
      gating.set(grant.id, {
        grantId: grant.id,
        resource: grant.resource,
        reason: decision === "ask" ? "ask" : "uses",
      });
    }
    return "gated";
  };
  const modeOf = (path: string): ViewMode => {
    const known = modes.get(path);
    if (known !== undefined) return known;
    const read = allowed(path, "read");
    // Write is consulted unless read is refused outright, so that one round of
    // asking (with `granted`) settles every gating grant of this view.
    const write = read === "no" ? "no" : allowed(path, "write");
    const mode = read !== "yes" ? "hidden" : write === "yes" ? "rw" : "ro";
    modes.set(path, mode);
    return mode;
  };

  let walked = 0;
  const count = () => {
    walked++;
    if (walked > maxEntries) {
      throw libosError(
        "ELIMIT",
        `Cannot view '${
          cwd === "" ? "." : cwd
        }': its subtree holds more than ${maxEntries} entries`,
        { path: cwd, limit: maxEntries },
      );
    }
  };
  const visit = async (path: string, host: string, isDir: boolean): Promise<_Node> => {
    count();
    let mode = modeOf(path);
    if (!isDir) return { entry: { path, mode, kind: "file" }, uniform: true, below: [] };
    // A writable directory lets the program create any name in it: it is
    // `rw` only when the fs primitives would let a new file there be written
    // too (a grant like `fs:*` covers the directory, not what goes into it).
    const probe = `${path === "" ? "" : `${path}/`}${NEW_ENTRY_PROBE}`;
    if (mode === "rw" && allowed(probe, "write") !== "yes") {
      mode = "ro";
    }
    if (options.uniformBelow?.(path) === true) {
      // Everything below has the mode of any one path below (the probe's).
      const below = modeOf(probe);
      if (below === mode) return { entry: { path, mode, kind: "dir" }, uniform: true, below: [] };
      const children: _Node[] = [];
      try {
        for await (const info of Deno.readDir(host)) {
          const childPath = path === "" ? info.name : `${path}/${info.name}`;
          children.push(
            info.isSymlink ? await symlinkNode(childPath, join(host, info.name)) : {
              entry: { path: childPath, mode: below, kind: info.isDirectory ? "dir" : "file" },
              uniform: true,
              below: [],
            },
          );
        }
      } catch {
        // Unreadable or gone since: its own mode covers it.
      }
      children.sort((a, b) =>
        a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0
      );
      return {
        entry: { path, mode, kind: "dir" },
        uniform: false,
        below: children.flatMap((child) => [child.entry, ...child.below]),
      };
    }
    const names: Array<{ name: string; info: Deno.DirEntry }> = [];
    try {
      for await (const info of Deno.readDir(host)) names.push({ name: info.name, info });
    } catch {
      // Unreadable or gone since: nothing below it is listed (its own mode covers it).
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const children: _Node[] = [];
    for (const { name, info } of names) {
      const childPath = path === "" ? name : `${path}/${name}`;
      const childHost = join(host, name);
      if (info.isSymlink) {
        children.push(await symlinkNode(childPath, childHost));
      } else {
        children.push(await visit(childPath, childHost, info.isDirectory));
      }
    }
    const uniform = children.every((child) => child.uniform && child.entry.mode === mode);
    const below = uniform ? [] : children.flatMap((child) => [child.entry, ...child.below]);
    return { entry: { path, mode, kind: "dir" }, uniform, below };
  };
  const symlinkNode = async (path: string, host: string): Promise<_Node> => {
    count();
    let target: string;
    let isDir = false;
    try {
      target = await Deno.realPath(host);
      isDir = (await Deno.stat(target)).isDirectory;
    } catch {
      return { entry: { path, mode: "hidden", kind: "file" }, uniform: true, below: [] };
    }
    const inside = relative(rootHost, target);
    if (inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      return { entry: { path, mode: "hidden", kind: "file" }, uniform: true, below: [] };
    }
    const parts = [cwd, ...(inside === "" ? [] : inside.split(sep))].filter((p) => p !== "");
    const mode = modeOf(parts.join("/"));
    return { entry: { path, mode, kind: isDir ? "dir" : "file" }, uniform: true, below: [] };
  };

  const root = await visit(cwd, rootHost, true);
  return { entries: [root.entry, ...root.below], gating: [...gating.values()], walked };
}

/** A walked path and, when its subtree is not uniform, the entries listed below it. */
interface _Node {
  entry: ViewEntry;
  /** True when every path below has the entry's mode. */
  uniform: boolean;
  below: ViewEntry[];
}

/** Options of {@linkcode viewMountArgs}. */
export interface ViewMountOptions {
  /** The workspace's real host path. */
  workspace: string;
  /** The run's working directory (workspace-relative): the view's first entry. */
  cwd: string;
}

/**
 * The bubblewrap arguments that mount `entries` under
 * {@linkcode SANDBOX_WORKSPACE}, following the rules in the module doc. The
 * entries are checked first (EINVAL for a malformed view: a path not in
 * normal form or outside the cwd subtree, a duplicate, no entry for the cwd,
 * an entry whose parent is not listed). Then, just before the run, every
 * entry is looked at on the host again: one that is now a symlink is not
 * mounted (inside the sandbox it resolves within the view), one that has
 * gone is skipped, and a bound one whose real path is no longer its own
 * (a directory on its way was replaced by a symlink since the walk) refuses
 * the run with EPERM. A swap between this check and bubblewrap's mount is
 * not caught.
 */
export async function viewMountArgs(
  entries: readonly ViewEntry[],
  options: ViewMountOptions,
): Promise<string[]> {
  const { workspace, cwd } = options;
  const ordered = checkViewEntries(entries, cwd);
  const args: string[] = [];
  const remount: string[] = [];
  /** Paths present in the sandbox as a host bind (true) or as an empty tmpfs or nothing (false). */
  const bound = new Map<string, boolean>();
  for (const entry of ordered) {
    const host = join(workspace, entry.path);
    const inside = entry.path === "" ? SANDBOX_WORKSPACE : `${SANDBOX_WORKSPACE}/${entry.path}`;
    const parentBound = entry.path === cwd ? false : bound.get(_parent(entry.path)) === true;
    let info: Deno.FileInfo | null;
    try {
      info = await Deno.lstat(host);
    } catch {
      info = null;
    }
    if (info === null || info.isSymlink) {
      // Gone, or a symlink: whatever the parent shows stands.
      bound.set(entry.path, parentBound);
      continue;
    }
    if (entry.mode === "hidden") {
      bound.set(entry.path, false);
      if (info.isDirectory) {
        if (parentBound || entry.path === cwd) {
          args.push("--tmpfs", inside);
          remount.push(inside);
        }
      } else if (parentBound) {
        args.push("--ro-bind", "/dev/null", inside);
      }
      continue;
    }
    let real: string;
    try {
      real = await Deno.realPath(host);
    } catch {
      real = "";
    }
    if (real !== host) {
      throw libosError(
        "EPERM",
        `Cannot mount '${entry.path}': it leads to '${real || "nowhere"}' now, ` +
          "not where the view was computed; the workspace changed during the run's preparation",
        { path: entry.path },
      );
    }
    args.push(entry.mode === "rw" ? "--bind" : "--ro-bind", host, inside);
    bound.set(entry.path, info.isDirectory);
  }
  for (const path of remount) args.push("--remount-ro", path);
  return args;
}

/**
 * Checks a view's entries against its cwd and returns them parents first
 * (stable within one depth). Throws EINVAL for a malformed view.
 */
export function checkViewEntries(entries: readonly ViewEntry[], cwd: string): ViewEntry[] {
  if (!Array.isArray(entries)) {
    throw libosError("EINVAL", "Cannot use the shell view: entries must be a list");
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const path = entry?.path;
    const bad = (why: string) =>
      libosError("EINVAL", `Cannot use the shell view entry '${String(path)}': ${why}`, {
        path: String(path),
      });
    if (typeof path !== "string" || !isNormalPath(path)) {
      throw bad("the path must be a normalised workspace path");
    }
    if (entry.mode !== "rw" && entry.mode !== "ro" && entry.mode !== "hidden") {
      throw bad(`the mode must be "rw", "ro" or "hidden"`);
    }
    if (entry.kind !== "dir" && entry.kind !== "file") {
      throw bad(`the kind must be "dir" or "file"`);
    }
    if (!_within(path, cwd)) throw bad(`it lies outside the working directory '${cwd}'`);
    if (seen.has(path)) throw bad("it is listed twice");
    seen.add(path);
  }
  if (!seen.has(cwd)) {
    throw libosError(
      "EINVAL",
      `Cannot use the shell view: it has no entry for the working directory '${cwd}'`,
      { path: cwd },
    );
  }
  for (const path of seen) {
    if (path !== cwd && !seen.has(_parent(path))) {
      throw libosError(
        "EINVAL",
        `Cannot use the shell view entry '${path}': its parent '${_parent(path)}' is not listed`,
        { path },
      );
    }
  }
  const depth = (path: string) => (path === "" ? 0 : path.split("/").length);
  return [...entries].sort((a, b) => depth(a.path) - depth(b.path));
}

/** Whether `path` is a workspace path in normal form ("" is the root). */
export function isNormalPath(path: string): boolean {
  return typeof path === "string" && !path.startsWith("/") && !path.includes("\0") &&
    !path.includes("\\") &&
    (path === "" || path.split("/").every((part) => part !== "" && part !== "." && part !== ".."));
}

function _within(path: string, dir: string): boolean {
  return dir === "" || path === dir || path.startsWith(`${dir}/`);
}

function _parent(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

async function _checkRealDirectory(host: string, cwd: string): Promise<void> {
  let real: string;
  try {
    real = await Deno.realPath(host);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw libosError("ENOENT", `Cannot view '${cwd}': the directory does not exist`, {
        path: cwd,
      });
    }
    throw libosError("EINTERNAL", `Cannot view '${cwd}': ${(error as Error).message}`, {
      path: cwd,
    }, error);
  }
  if (real !== host) {
    throw libosError("EINVAL", `Cannot view '${cwd}': it is not a real path (a symlink is on it)`, {
      path: cwd,
    });
  }
  if (!(await Deno.stat(real)).isDirectory) {
    throw libosError("EINVAL", `Cannot view '${cwd}': it is not a directory`, { path: cwd });
  }
}
