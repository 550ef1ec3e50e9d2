/**
 * Writes object versions into a batch: the payload validated against its
 * type, the namespace's quota checked, the new version put into object
 * memory and its `object.put` mutation added.
 *
 * @module
 */
import type { Batch } from "../engine/batch.ts";
import type { Clock } from "../substrate/clock.ts";
import type { ObjectRecord, Pid } from "../types.ts";
import { newOid, type ObjectMemory } from "./object_memory.ts";
import type { ObjectTypeRegistry } from "./object_types.ts";

/** What {@linkcode ObjectWriter.put} writes. */
export interface ObjectInput {
  namespace: string;
  name: string;
  type: string;
  payload: unknown;
  provenance: { pid: Pid | null; step: number | null };
  links?: { rel: string; oid: string }[];
  /** The object to write a new version of (default: the one of that name, else a new one). */
  oid?: string;
}

/** Writes object versions (see the module doc). */
export class ObjectWriter {
  readonly #objects: ObjectMemory;
  readonly #types: ObjectTypeRegistry;
  readonly #clock: Clock;

  constructor(options: { objects: ObjectMemory; types: ObjectTypeRegistry; clock: Clock }) {
    this.#objects = options.objects;
    this.#types = options.types;
    this.#clock = options.clock;
  }

  /** Creates or writes an object version into the batch. */
  put(batch: Batch, input: ObjectInput): ObjectRecord {
    const objects = this.#objects;
    const payload = this.#types.validate(input.type, input.payload);
    const text = JSON.stringify(payload);
    const prev = input.oid !== undefined
      ? objects.get(input.oid)
      : objects.find(input.namespace, input.name);
    const now = this.#clock.now();
    const record: ObjectRecord = {
      oid: prev?.oid ?? input.oid ?? newOid(),
      namespace: input.namespace,
      name: input.name,
      type: input.type,
      payload,
      version: (prev?.version ?? 0) + 1,
      links: input.links ?? prev?.links ?? [],
      provenance: input.provenance,
      size: new TextEncoder().encode(text ?? "null").length,
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
    };
    objects.checkQuota(record, prev);
    objects.put(record);
    batch.add({ kind: "object.put", object: record });
    return record;
  }
}
