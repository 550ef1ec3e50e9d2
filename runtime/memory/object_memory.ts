/**
 * The latest version of every live object, indexed by oid and by
 * namespace/name, with per-namespace usage for quotas. Capability decisions are
 * the kernel's; this class holds data and enforces uniqueness and quotas.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { ObjectRecord } from "../types.ts";

/** Size limits of object memory. */
export interface ObjectQuotas {
  /** Largest payload of one object, in bytes of JSON (default 1 MiB). */
  maxObjectBytes: number;
  /** Total bytes of a namespace's latest versions (default 16 MiB). */
  maxNamespaceBytes: number;
  /** Objects in one namespace (default 10,000). */
  maxNamespaceObjects: number;
}

/** The default quotas. */
export const DEFAULT_OBJECT_QUOTAS: ObjectQuotas = {
  maxObjectBytes: 1 << 20,
  maxNamespaceBytes: 16 << 20,
  maxNamespaceObjects: 10_000,
};

interface _Usage {
  bytes: number;
  count: number;
}

/** A fresh object id: `o_` and 20 hex digits. */
export function newOid(): string {
  return `o_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/** In-memory index of the latest object versions. */
export class ObjectMemory {
  readonly quotas: ObjectQuotas;
  #byOid = new Map<string, ObjectRecord>();
  #byName = new Map<string, string>();
  #usage = new Map<string, _Usage>();

  constructor(quotas: Partial<ObjectQuotas> = {}) {
    this.quotas = { ...DEFAULT_OBJECT_QUOTAS, ...quotas };
  }

  /** Loads objects at boot. */
  load(objects: Iterable<ObjectRecord>): void {
    for (const o of objects) this.#index(o);
  }

  /** The object with this oid. */
  get(oid: string): ObjectRecord | undefined {
    return this.#byOid.get(oid);
  }

  /** The object with this name in this namespace. */
  find(namespace: string, name: string): ObjectRecord | undefined {
    const oid = this.#byName.get(_key(namespace, name));
    return oid === undefined ? undefined : this.#byOid.get(oid);
  }

  /** Objects of a namespace, by name. */
  list(namespace: string): ObjectRecord[] {
    const out: ObjectRecord[] = [];
    for (const o of this.#byOid.values()) if (o.namespace === namespace) out.push(o);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every live object's latest version. */
  all(): IterableIterator<ObjectRecord> {
    return this.#byOid.values();
  }

  /** Throws EQUOTA when storing `next` (replacing `prev`) would pass a quota. */
  checkQuota(next: ObjectRecord, prev: ObjectRecord | undefined): void {
    const q = this.quotas;
    if (next.size > q.maxObjectBytes) {
      throw libosError(
        "EQUOTA",
        `Cannot store object '${next.namespace}/${next.name}': ${next.size} bytes is more than the ${q.maxObjectBytes}-byte object limit`,
        { namespace: next.namespace },
      );
    }
    const u = this.#usage.get(next.namespace) ?? { bytes: 0, count: 0 };
    const bytes = u.bytes + next.size - (prev?.size ?? 0);
    if (bytes > q.maxNamespaceBytes) {
      throw libosError(
        "EQUOTA",
        `Cannot store object '${next.namespace}/${next.name}': namespace ${next.namespace} would hold ${bytes} bytes, more than its ${q.maxNamespaceBytes}-byte quota`,
        { namespace: next.namespace },
      );
    }
    if (prev === undefined && u.count + 1 > q.maxNamespaceObjects) {
      throw libosError(
        "EQUOTA",
        `Cannot store object '${next.namespace}/${next.name}': namespace ${next.namespace} holds its quota of ${q.maxNamespaceObjects} objects`,
        { namespace: next.namespace },
      );
    }
  }

  /** Stores a new latest version (callers check names and quotas first). */
  put(object: ObjectRecord): void {
    const prev = this.#byOid.get(object.oid);
    if (prev !== undefined) this.#unindex(prev);
    this.#index(object);
  }

  /** Removes an object. */
  delete(oid: string): void {
    const prev = this.#byOid.get(oid);
    if (prev !== undefined) this.#unindex(prev);
  }

  /** Number of live objects. */
  get size(): number {
    return this.#byOid.size;
  }

  #index(o: ObjectRecord): void {
    this.#byOid.set(o.oid, o);
    this.#byName.set(_key(o.namespace, o.name), o.oid);
    const u = this.#usage.get(o.namespace) ?? { bytes: 0, count: 0 };
    u.bytes += o.size;
    u.count += 1;
    this.#usage.set(o.namespace, u);
  }

  #unindex(o: ObjectRecord): void {
    this.#byOid.delete(o.oid);
    this.#byName.delete(_key(o.namespace, o.name));
    const u = this.#usage.get(o.namespace);
    if (u !== undefined) {
      u.bytes -= o.size;
      u.count -= 1;
    }
  }
}

function _key(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}
