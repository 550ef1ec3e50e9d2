/**
 * The fs primitives: read, write, list, stat, delete and mkdir of workspace
 * files, each a syscall of the engine. A target is resolved against the
 * process cwd, decided on its path and again on its real path (a symlink
 * that leads elsewhere needs that path's grant too), and touched through the
 * kernel's filesystem provider. Writes, deletes and mkdirs record the target's
 * state before the effect, so one found in flight after a crash is settled
 * from evidence: already done → completed without touching the file; still as
 * before → redone; anything else → EUNKNOWN.
 *
 * @module
 */
import { sha256Hex } from "../audit/canonical_json.ts";
import { hasCode, libosError } from "../errors.ts";
import { escapePreview } from "../human/preview.ts";
import type { DirEntry, FileStat } from "../substrate/fs_provider.ts";
import { fsResource, resolvePath } from "../substrate/workspace_path.ts";
import type { Authz, Call, SyscallEngine } from "../engine/engine.ts";
import { PRIMITIVES } from "./table.ts";
import { utf8OrNull } from "../engine/json_safe.ts";

/** Largest file a read primitive returns (8 MiB). */
export const MAX_FILE_BYTES = 8 << 20;

const encoder = new TextEncoder();

/** Resolves a path; an escape is audited as a deny. */
export function workspacePath(e: SyscallEngine, action: string, input: unknown): string {
  if (typeof input !== "string") {
    throw libosError("EINVAL", `Cannot use path ${String(input)}: expected a string`);
  }
  try {
    return resolvePath(e.p.cwd, input);
  } catch (error) {
    e.audit(action, {
      resource: `fs:${escapePreview(input, { max: 200 })}`,
      decision: "deny",
      detail: { reason: error instanceof Error ? error.message : String(error) },
    });
    throw error;
  }
}

/**
 * Authorizes an fs right on a path, then on its real path when a symlink
 * leads elsewhere (an escape from the workspace is EPERM).
 */
export async function fsTarget(
  e: SyscallEngine,
  c: Call,
  action: string,
  input: unknown,
  right: string,
  exact: { args: unknown; preview: string; content?: string },
): Promise<FsTarget> {
  const path = workspacePath(e, action, input);
  const resource = fsResource(path);
  const authz = e.authorize(c, action, resource, right, exact);
  const fs = e.k.fs;
  let real: string;
  let stat: FileStat | null | undefined;
  try {
    if (fs.resolve === undefined) real = await fs.realPath(path);
    else ({ real, stat } = await fs.resolve(path));
  } catch (error) {
    if (hasCode(error, "EPERM")) {
      e.audit(action, {
        resource,
        decision: "deny",
        detail: { right, reason: "the real path leaves the workspace" },
      });
    }
    throw error;
  }
  if (real !== path) {
    const realResource = fsResource(real);
    const again = e.k.authorizer.decide(e.pid, realResource, right);
    if (again.decision !== "allow") {
      e.audit(action, {
        resource: realResource,
        decision: "deny",
        grant: again.grant,
        detail: { right, via: path, reason: "symlink target is not granted" },
      });
      throw libosError(
        "EPERM",
        `Cannot ${right} '${path}': it leads to '${real}', for which process ${e.pid} holds no allowing fs ${right} capability`,
        { pid: e.pid, resource: realResource, right },
      );
    }
  }
  return { path, real, authz, resource, stat };
}

/**
 * A checked fs target: the path as named, its real path, the decision, and
 * (when the provider learnt it while resolving) what was at the real path
 * then: the state an effect's intent records and a read's checks look at.
 */
export interface FsTarget {
  path: string;
  real: string;
  authz: Authz;
  resource: string;
  stat?: FileStat | null | undefined;
}

/** Reads a text file (UTF-8). */
export function readText(e: SyscallEngine, path: string): Promise<string> {
  return _readAs(e, "fs.readText", path, (bytes, checked) => {
    const text = utf8OrNull(bytes);
    if (text !== null) return text;
    throw libosError("EINVAL", `Cannot read '${checked}' as text: it is not valid UTF-8`, {
      path: checked,
    });
  });
}

/** Reads a file's bytes. */
export function readBytes(e: SyscallEngine, path: string): Promise<Uint8Array> {
  return _readAs(e, "fs.readBytes", path, (bytes) => bytes);
}

/**
 * Reads a file under the `read` right (one `fs.read` decision) and converts
 * its bytes; `convert` gets the path as checked, too.
 */
function _readAs<T>(
  e: SyscallEngine,
  name: "fs.readText" | "fs.readBytes",
  path: string,
  convert: (bytes: Uint8Array, checked: string) => T,
): Promise<T> {
  return e.syscall(name, { path }, async (c) => {
    const t = await fsTarget(e, c, c.audit, path, "read", {
      args: { path },
      preview: `read ${path}`,
    });
    const bytes = await readFile(e, t.real, t.stat);
    e.allowed(t.authz, { bytes: bytes.length });
    return convert(bytes, t.path);
  });
}

export async function readFile(
  e: SyscallEngine,
  real: string,
  known?: FileStat | null,
): Promise<Uint8Array> {
  const st = known !== undefined ? known : await e.k.fs.stat(real);
  if (st === null) {
    throw libosError("ENOENT", `Cannot read '${real}': no such file`, { path: real });
  }
  if (st.kind !== "file") {
    throw libosError(
      "EINVAL",
      `Cannot read '${real}': it is a ${st.kind === "dir" ? "directory" : st.kind}`,
      { path: real },
    );
  }
  if (st.size > MAX_FILE_BYTES) {
    throw libosError(
      "ELIMIT",
      `Cannot read '${real}': ${st.size} bytes is more than the ${MAX_FILE_BYTES}-byte read limit`,
      { path: real },
    );
  }
  try {
    return await e.k.fs.readBytes(real);
  } catch (error) {
    // The provider found the path changed under it (a swapped symlink): a denial.
    if (hasCode(error, "EPERM")) {
      e.audit(PRIMITIVES["fs.readText"].audit, {
        resource: fsResource(real),
        decision: "deny",
        detail: { reason: error.message },
      });
    }
    throw error;
  }
}

/** Writes a file (text as UTF-8), creating parent directories. */
export function write(
  e: SyscallEngine,
  path: string,
  data: string | Uint8Array,
): Promise<{ path: string; bytes: number }> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (!(bytes instanceof Uint8Array)) {
    return Promise.reject(
      libosError("EINVAL", "Cannot write: data must be a string or Uint8Array"),
    );
  }
  const content = sha256Hex(bytes);
  const args = { path, content };
  return e.syscall("fs.write", args, async (c) => {
    const preview = typeof data === "string" ? data : `<${bytes.length} bytes>`;
    const t = await fsTarget(e, c, c.audit, path, "write", {
      args,
      preview: `write ${bytes.length} bytes to ${path} (sha256 ${
        content.slice(0, 16)
      }…):\n${preview}`,
      content,
    });
    if (bytes.length > MAX_FILE_BYTES) {
      throw libosError(
        "ELIMIT",
        `Cannot write '${t.path}': ${bytes.length} bytes is more than the ${MAX_FILE_BYTES}-byte write limit`,
        { path: t.path },
      );
    }
    await writeFile(e, c, t, bytes, content);
    return { path: t.path, bytes: bytes.length };
  });
}

/**
 * Writes a file's bytes as an effect. The intent records the file's state
 * before the write (kind, size, mtime, or absent); a write found in flight
 * after a crash is settled from evidence: a file that already holds the
 * intended bytes completes without being touched; one still in its prior
 * state is written; anything else is an unknown outcome (EUNKNOWN).
 */
export async function writeFile(
  e: SyscallEngine,
  c: Call,
  t: FsTarget,
  bytes: Uint8Array,
  content: string,
  also: readonly Authz[] = [],
  detail: Record<string, unknown> = {},
): Promise<void> {
  const fs = e.k.fs;
  if (e.redo(c)) {
    // A write cut short may have left its temporary file: it goes first.
    await fs.clearInterrupted?.(t.real);
    const now = await _statReal(e, t.real);
    if (now?.kind === "file" && now.size === bytes.length) {
      if (sha256Hex(await fs.readBytes(t.real)) === content) {
        return e.settled(c, t.authz, "evidence");
      }
    }
    const before = c.intent?.["before"] as FileStat | null | undefined;
    // (An intent from before evidence was recorded is simply redone.)
    if (before !== undefined && !_sameState(before, now)) {
      throw libosError(
        "EUNKNOWN",
        `Cannot tell whether ${c.name} of '${t.path}' took effect: the kernel stopped while it ran, and the file now holds neither its earlier content nor the intended bytes`,
        { pid: e.pid, path: t.path },
      );
    }
    e.settled(c, t.authz, "redo");
    await fs.writeBytes(t.real, bytes, { createParents: true });
    return;
  }
  const before = t.stat !== undefined ? t.stat : await _statReal(e, t.real);
  await e.effect(c, [t.authz, ...also], { path: t.real, before }, {
    bytes: bytes.length,
    sha256: content,
    ...detail,
  });
  await fs.writeBytes(t.real, bytes, {
    createParents: true,
    resolved: true,
    absent: before === null,
  });
}

/** Lists a directory. */
export function list(e: SyscallEngine, path: string): Promise<DirEntry[]> {
  return e.syscall("fs.list", { path }, async (c) => {
    const t = await fsTarget(e, c, c.audit, path, "list", {
      args: { path },
      preview: `list ${path}`,
    });
    const entries = await e.k.fs.list(t.real);
    e.allowed(t.authz, { entries: entries.length });
    return entries;
  });
}

/** Stats a path (null when it does not exist). Needs `read` or `list`. */
export function stat(e: SyscallEngine, path: string): Promise<FileStat | null> {
  return e.syscall("fs.stat", { path }, async (c) => {
    const t = await fsTarget(e, c, c.audit, path, "read", {
      args: { path },
      preview: `stat ${path}`,
    });
    const st = await e.k.fs.stat(t.real);
    e.allowed(t.authz);
    return st;
  });
}

/** Deletes a file or an empty directory (needs `delete`, not `write`). */
export function remove(e: SyscallEngine, path: string): Promise<{ path: string }> {
  return e.syscall("fs.delete", { path }, async (c) => {
    const t = await fsTarget(e, c, c.audit, path, "delete", {
      args: { path },
      preview: `delete ${path}`,
    });
    const fs = e.k.fs;
    if (e.redo(c)) {
      // Found in flight after a crash: gone and there before means the
      // first attempt removed it (evidence); never there stays ENOENT.
      const existed = c.intent?.["existed"];
      if (existed !== false && (await _statReal(e, t.real)) === null) {
        e.settled(c, t.authz, "evidence");
        return { path: t.path };
      }
    } else {
      const existed = (await _statReal(e, t.real)) !== null;
      await e.effect(c, [t.authz], { path: t.real, existed });
    }
    await fs.remove(t.real);
    return { path: t.path };
  });
}

/** Makes a directory and its parents (needs `write`). */
export function mkdir(e: SyscallEngine, path: string): Promise<{ path: string }> {
  return e.syscall("fs.mkdir", { path }, async (c) => {
    const t = await fsTarget(e, c, c.audit, path, "write", {
      args: { path },
      preview: `make directory ${path}`,
    });
    if (e.redo(c) && (await _statReal(e, t.real))?.kind === "dir") {
      e.settled(c, t.authz, "evidence");
      return { path: t.path };
    }
    await e.effect(c, [t.authz], { path: t.real });
    await e.k.fs.mkdir(t.real, { recursive: true });
    return { path: t.path };
  });
}

/**
 * A target's state (kind, size, mtime; null when absent), as the intent of an
 * effect records it and as recovery compares it: the path was resolved by
 * fsTarget, so the provider need not resolve it again.
 */
function _statReal(e: SyscallEngine, real: string): Promise<FileStat | null> {
  const fs = e.k.fs;
  return fs.statResolved?.(real) ?? fs.stat(real);
}

function _sameState(before: FileStat | null, now: FileStat | null): boolean {
  if (before === null || now === null) return before === null && now === null;
  return before.kind === now.kind && before.size === now.size && before.mtimeMs === now.mtimeMs;
}

/**
 * What the kernel sees at a workspace path, for a human settling an unknown
 * outcome (runtime/engine/engine.ts): a file with its size and
 * sha-256, a directory, a symbolic link (not followed), or null when absent.
 */
export async function fileEvidence(e: SyscallEngine, path: string): Promise<string | null> {
  const fs = e.k.fs;
  const st = await fs.stat(path);
  if (st === null) return null;
  if (st.kind !== "file") {
    return st.kind === "dir" ? "a directory" : "a symbolic link (not followed)";
  }
  const when = st.mtimeMs === 0 ? "" : `, modified ${new Date(st.mtimeMs).toISOString()}`;
  if (st.size > MAX_FILE_BYTES) return `a file, ${st.size} bytes${when} (too large to hash)`;
  return `a file, ${st.size} bytes${when}, sha256 ${sha256Hex(await fs.readBytes(path))}`;
}
