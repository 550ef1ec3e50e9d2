/**
 * The object primitives: create, read, write, list, link and delete typed
 * objects, and the bridges that move content between files and objects
 * without passing it through the model. A process owns its namespace
 * (`proc/<pid>`); anything else needs an `obj:` or `ns:` grant, decided
 * before anything is revealed (an oid names no namespace, so a missing one and
 * a forbidden one fail alike).
 *
 * @module
 */
import { sha256Hex } from "../audit/canonical_json.ts";
import { hasCode, libosError } from "../errors.ts";
import type { ObjectRecord, Pid } from "../types.ts";
import type { Authz, Call, SyscallEngine } from "../engine/engine.ts";
import { b64, unb64, utf8OrNull } from "../engine/json_safe.ts";
import { fsTarget, readFile, writeFile } from "./fs.ts";

const OID = /^o_[0-9a-f]{20}$/;
const encoder = new TextEncoder();

/** Summary of an object, as list primitives return it. */
export interface ObjectInfo {
  oid: string;
  namespace: string;
  name: string;
  type: string;
  version: number;
  size: number;
}

/** Splits a ref into namespace and name (or an oid). */
function _ref(
  e: SyscallEngine,
  ref: unknown,
): { oid: string } | { namespace: string; name: string } {
  if (typeof ref !== "string" || ref.length === 0 || ref.length > 512 || ref.includes("\u0000")) {
    throw libosError(
      "EINVAL",
      `Cannot use object ref ${JSON.stringify(ref)}: expected an oid, 'namespace/name' or a name`,
    );
  }
  if (OID.test(ref)) return { oid: ref };
  const i = ref.lastIndexOf("/");
  if (i < 0) return { namespace: `proc/${e.pid}`, name: ref };
  return { namespace: ref.slice(0, i), name: ref.slice(i + 1) };
}

/**
 * On a store several kernels share, brings this kernel's object memory up to
 * what the store holds for the objects a call names: another kernel may have
 * created or written them since. A newer stored version replaces the one
 * held. (Two kernels writing one object at the same instant still conflict
 * on its version: see docs/cluster.md.)
 */
async function _fresh(e: SyscallEngine, refs: readonly unknown[]): Promise<void> {
  const store = e.k.store;
  if (!store.shared) return;
  for (const ref of refs) {
    let r: { oid: string } | { namespace: string; name: string };
    try {
      r = _ref(e, ref);
    } catch {
      continue; // the call itself refuses it
    }
    let namespace: string;
    if ("oid" in r) {
      const held = e.k.objects.get(r.oid);
      const latest = held ?? (await store.readObjectVersions(r.oid)).at(-1);
      if (latest === undefined) continue;
      namespace = latest.namespace;
    } else namespace = r.namespace;
    for (const stored of await store.readObjects(namespace)) {
      if ("oid" in r ? stored.oid !== r.oid : stored.name !== r.name) continue;
      _adopt(e, stored);
    }
  }
}

/** On a shared store, every object of a namespace as the store holds it (see {@linkcode _fresh}). */
async function _freshNamespace(e: SyscallEngine, namespace: string): Promise<void> {
  if (!e.k.store.shared) return;
  for (const stored of await e.k.store.readObjects(namespace)) _adopt(e, stored);
}

function _adopt(e: SyscallEngine, stored: ObjectRecord): void {
  const held = e.k.objects.get(stored.oid);
  if (held === undefined || held.version < stored.version) e.k.objects.put(stored);
}

/** Resolves a ref and authorizes `right` on it before revealing anything. */
function _object(
  e: SyscallEngine,
  c: Call,
  action: string,
  ref: unknown,
  right: string,
  args: unknown,
): { object: ObjectRecord; authz: Authz; resource: string } {
  const r = _ref(e, ref);
  if ("oid" in r) {
    // An oid names no namespace: a missing object and one the process may
    // not touch fail with the same words, so an oid reveals nothing.
    const hidden = () =>
      libosError(
        "EPERM",
        `Cannot ${right} object '${r.oid}': process ${e.pid} holds no obj ${right} capability for an object with that id`,
        { pid: e.pid, right },
      );
    const o = e.k.objects.get(r.oid);
    if (o === undefined) {
      e.audit(action, {
        resource: `obj:${r.oid}`,
        decision: "deny",
        detail: { right, reason: "no such object, or no grant for it" },
      });
      throw hidden();
    }
    const resource = `obj:${o.namespace}/${o.name}`;
    try {
      const authz = e.authorize(c, action, resource, right, {
        args,
        preview: `${right} object ${o.namespace}/${o.name}`,
      });
      return { object: o, resource, authz };
    } catch (error) {
      throw hasCode(error, "EPERM") ? hidden() : error;
    }
  }
  const resource = `obj:${r.namespace}/${r.name}`;
  const authz = e.authorize(c, action, resource, right, {
    args,
    preview: `${right} object ${r.namespace}/${r.name}`,
  });
  const o = e.k.objects.find(r.namespace, r.name);
  if (o === undefined) {
    throw libosError(
      "ENOENT",
      `Cannot ${right} object '${r.namespace}/${r.name}': no such object`,
      { pid: e.pid },
    );
  }
  return { object: o, authz, resource };
}

/** Creates an object (its name must be free in the namespace). */
export function create(
  e: SyscallEngine,
  input: { name: string; type: string; payload: unknown; namespace?: string },
): Promise<ObjectInfo> {
  return e.syscall("obj.create", input, async (c) => {
    const namespace = input.namespace ?? `proc/${e.pid}`;
    await _fresh(e, [`${namespace}/${input.name}`]);
    _checkName(input.name);
    const resource = `obj:${namespace}/${input.name}`;
    const authz = e.authorize(c, c.audit, resource, "write", {
      args: input,
      preview: `create ${input.type} object ${namespace}/${input.name}`,
    });
    if (e.k.objects.find(namespace, input.name) !== undefined) {
      throw libosError(
        "EEXIST",
        `Cannot create object '${namespace}/${input.name}': the name is taken in ${namespace}`,
        { pid: e.pid },
      );
    }
    const o = e.k.objectWriter.put(e.batch, {
      namespace,
      name: input.name,
      type: input.type,
      payload: input.payload,
      provenance: _provenance(e),
    });
    e.allowed(authz, { oid: o.oid, type: o.type, size: o.size });
    return _info(o);
  });
}

/** Reads an object's latest version. */
export function read(e: SyscallEngine, ref: string): Promise<ObjectRecord> {
  return e.syscall("obj.read", { ref }, async (c) => {
    await _fresh(e, [ref]);
    const { object, authz } = _object(e, c, c.audit, ref, "read", { ref });
    e.allowed(authz, { oid: object.oid, version: object.version });
    return structuredClone(object);
  });
}

/** Writes a new version of an object (validated by its type). */
export function writeObject(e: SyscallEngine, ref: string, payload: unknown): Promise<ObjectInfo> {
  return e.syscall("obj.write", { ref, payload }, async (c) => {
    await _fresh(e, [ref]);
    const { object, authz } = _object(e, c, c.audit, ref, "write", {
      ref,
      payload,
    });
    const o = e.k.objectWriter.put(e.batch, {
      namespace: object.namespace,
      name: object.name,
      type: object.type,
      payload,
      provenance: _provenance(e),
      oid: object.oid,
    });
    e.allowed(authz, { oid: o.oid, version: o.version, size: o.size });
    return _info(o);
  });
}

/** Lists a namespace (own by default; another needs `ns:<namespace>` list). */
export function listObjects(e: SyscallEngine, namespace?: string): Promise<ObjectInfo[]> {
  const ns = namespace ?? `proc/${e.pid}`;
  return e.syscall("obj.list", { namespace: ns }, async (c) => {
    const resource = `ns:${ns}`;
    const authz = e.authorize(c, c.audit, resource, "list", {
      args: { namespace: ns },
      preview: `list namespace ${ns}`,
    });
    await _freshNamespace(e, ns);
    const list = e.k.objects.list(ns).map(_info);
    e.allowed(authz, { count: list.length });
    return list;
  });
}

/** Links one object to another (`link` on the source, `read` on the target). */
export function link(e: SyscallEngine, from: string, rel: string, to: string): Promise<ObjectInfo> {
  return e.syscall("obj.link", { from, rel, to }, async (c) => {
    await _fresh(e, [from, to]);
    if (typeof rel !== "string" || !/^[a-z][a-z0-9_.-]{0,63}$/.test(rel)) {
      throw libosError(
        "EINVAL",
        `Cannot link with relation ${JSON.stringify(rel)}: expected a lower-case name`,
      );
    }
    const src = _object(e, c, c.audit, from, "link", { from, rel, to });
    const dst = _object(e, c, c.audit, to, "read", { from, rel, to });
    const links = [
      ...src.object.links.filter((l) => !(l.rel === rel && l.oid === dst.object.oid)),
      { rel, oid: dst.object.oid },
    ];
    const o = e.k.objectWriter.put(e.batch, {
      namespace: src.object.namespace,
      name: src.object.name,
      type: src.object.type,
      payload: src.object.payload,
      provenance: _provenance(e),
      oid: src.object.oid,
      links,
    });
    e.allowed(src.authz, { rel, to: dst.object.oid });
    e.spend(dst.authz);
    return _info(o);
  });
}

/** Deletes an object (its versions stay in the store). */
export function deleteObject(e: SyscallEngine, ref: string): Promise<{ oid: string }> {
  return e.syscall("obj.delete", { ref }, async (c) => {
    await _fresh(e, [ref]);
    const { object, authz } = _object(e, c, c.audit, ref, "delete", {
      ref,
    });
    e.k.objects.delete(object.oid);
    e.batch.add({ kind: "object.delete", oid: object.oid });
    e.allowed(authz, { oid: object.oid });
    return { oid: object.oid };
  });
}

/**
 * Copies a file into an object without passing it through the model:
 * the result names the object, never the content.
 */
export function fileToObject(
  e: SyscallEngine,
  path: string,
  name: string,
  type = "file_snapshot",
): Promise<ObjectInfo & { sha256: string }> {
  const args = { path, name, type };
  return e.syscall("obj.fromFile", args, async (c) => {
    _checkName(name);
    const namespace = `proc/${e.pid}`;
    const t = await fsTarget(e, c, c.audit, path, "read", {
      args,
      preview: `copy ${path} into object ${name}`,
    });
    const bytes = await readFile(e, t.real, t.stat);
    const sha = sha256Hex(bytes);
    const payload = _filePayload(type, t.path, bytes, sha);
    await _fresh(e, [`${namespace}/${name}`]);
    const prev = e.k.objects.find(namespace, name);
    if (prev !== undefined && prev.type !== type) {
      throw libosError(
        "EEXIST",
        `Cannot copy '${t.path}' into object '${name}': it exists with type ${prev.type}`,
        { pid: e.pid },
      );
    }
    const o = e.k.objectWriter.put(e.batch, {
      namespace,
      name,
      type,
      payload,
      provenance: _provenance(e),
    });
    e.allowed(t.authz, {
      oid: o.oid,
      bytes: bytes.length,
      sha256: sha,
    });
    return { ..._info(o), sha256: sha };
  });
}

/** Writes an object's content to a file without passing it through the model. */
export function objectToFile(
  e: SyscallEngine,
  ref: string,
  path: string,
): Promise<{ path: string; bytes: number; sha256: string }> {
  const args = { ref, path };
  return e.syscall("obj.toFile", args, async (c) => {
    await _fresh(e, [ref]);
    const src = _object(e, c, c.audit, ref, "read", args);
    const bytes = _objectBytes(src.object);
    const sha = sha256Hex(bytes);
    const t = await fsTarget(e, c, c.audit, path, "write", {
      args,
      preview:
        `write object ${src.object.namespace}/${src.object.name} (${bytes.length} bytes) to ${path}`,
      content: sha,
    });
    await writeFile(e, c, t, bytes, sha, [src.authz], { oid: src.object.oid });
    return { path: t.path, bytes: bytes.length, sha256: sha };
  });
}

function _provenance(e: SyscallEngine): { pid: Pid; step: number } {
  return { pid: e.pid, step: e.p.usage.steps };
}

function _checkName(name: unknown): void {
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) {
    throw libosError(
      "EINVAL",
      `Cannot use object name ${
        JSON.stringify(name)
      }: expected 1-128 letters, digits, '.', '_' or '-' (no '/')`,
    );
  }
}

function _info(o: ObjectRecord): ObjectInfo {
  return {
    oid: o.oid,
    namespace: o.namespace,
    name: o.name,
    type: o.type,
    version: o.version,
    size: o.size,
  };
}

function _filePayload(type: string, path: string, bytes: Uint8Array, sha: string): unknown {
  const text = utf8OrNull(bytes);
  switch (type) {
    case "file_snapshot":
      return text !== null
        ? { path, text, sha256: sha, size: bytes.length }
        : { path, base64: b64(bytes), sha256: sha, size: bytes.length };
    case "text":
    case "note":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as ${type}: it is not UTF-8 text`);
      }
      return { text };
    case "log":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as log: it is not UTF-8 text`);
      }
      return { lines: text.split("\n") };
    case "json":
      if (text === null) {
        throw libosError("EINVAL", `Cannot copy '${path}' as json: it is not UTF-8 text`);
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw libosError("EINVAL", `Cannot copy '${path}' as json: ${(error as Error).message}`);
      }
    default:
      throw libosError(
        "EINVAL",
        `Cannot copy a file into an object of type '${type}': expected file_snapshot, text, note, log or json`,
      );
  }
}

function _objectBytes(o: ObjectRecord): Uint8Array {
  const p = o.payload as Record<string, unknown> | null;
  if (p !== null && typeof p === "object" && !Array.isArray(p)) {
    if (typeof p["base64"] === "string") return unb64(p["base64"]);
    if (typeof p["text"] === "string") return encoder.encode(p["text"]);
    if (Array.isArray(p["lines"]) && p["lines"].every((l) => typeof l === "string")) {
      return encoder.encode(p["lines"].join("\n"));
    }
  }
  return encoder.encode(JSON.stringify(o.payload, null, 2) + "\n");
}
