/**
 * The kernel's durable settings (`meta`): kept with its state, loaded at
 * boot, each change committed with its audit record. `shutdown` records
 * whether the last run of a store held by one kernel ended cleanly;
 * `counters` is the ids' own and cannot be set from outside.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { Batch } from "./batch.ts";
import type { Records } from "./records.ts";

/** What {@linkcode MetaSettings.put} records besides the `meta.put` record. */
export interface MetaPutOptions {
  actor: string;
  /** An audit record of what the change means (e.g. `token.create`), in the same batch. */
  audit?: { action: string; detail: Record<string, unknown> };
}

/** The kernel's durable settings (see the module doc). */
export class MetaSettings {
  readonly #records: Records;
  #meta: Record<string, unknown> = {};

  constructor(records: Records) {
    this.#records = records;
  }

  /** Takes the settings the store holds (boot). */
  load(meta: Readonly<Record<string, unknown>>): void {
    this.#meta = { ...meta };
  }

  /** Whether the last run recorded a clean shutdown. */
  get cleanShutdown(): boolean {
    return this.#meta["shutdown"] === "clean";
  }

  /** Records in the batch that the kernel is running (a crash then shows at the next boot). */
  markRunning(batch: Batch): void {
    this.#meta["shutdown"] = "running";
    batch.add({ kind: "meta.put", key: "shutdown", value: "running" });
  }

  /** A setting (a copy); undefined when unset. */
  get(key: string): unknown {
    const v = this.#meta[key];
    return v === undefined ? undefined : structuredClone(v);
  }

  /** Stores a setting; resolves when it is committed. */
  async put(key: string, value: unknown, options: MetaPutOptions): Promise<void> {
    if (key === "counters" || key.length === 0 || key.length > 200) {
      throw libosError("EINVAL", `Cannot set meta '${key}': reserved or malformed key`);
    }
    const records = this.#records;
    const batch = new Batch();
    this.#meta[key] = structuredClone(value);
    batch.add({ kind: "meta.put", key, value });
    records.audit(batch, { actor: options.actor, action: "meta.put", detail: { key } });
    if (options.audit !== undefined) {
      const { action, detail } = options.audit;
      records.audit(batch, { actor: options.actor, action, detail: structuredClone(detail) });
    }
    await records.commit(batch);
  }
}
