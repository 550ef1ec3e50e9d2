/**
 * The image registry: every image the kernel knows, by id and version. Pure
 * memory, no I/O; the kernel persists each new record (an `image.put`
 * mutation) and hands the stored records back to {@linkcode ImageRegistry.load}
 * at boot.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { AgentImage } from "./schemas.ts";
import type { ImageRecord } from "../types.ts";

/** Options of {@linkcode ImageRegistry.register}. */
export interface RegisterImageOptions {
  /** The file the image was loaded from (default: none, stored as null). */
  source?: string;
  /** The registration time in epoch milliseconds (default `Date.now()`). */
  now?: number;
}

/** Up to this many known ids are listed in a "not found" message. */
const LIST_AT_MOST = 10;

/**
 * An in-memory registry of {@linkcode ImageRecord}s. Each id has a current
 * version (the one most recently registered); every version stays
 * retrievable by `get(id, version)`.
 *
 * @example
 * ```ts
 * const images = new ImageRegistry();
 * images.register({
 *   id: "hello",
 *   name: "Hello",
 *   version: "1.0.0",
 *   description: "",
 *   systemPrompt: "",
 *   model: { provider: "scripted", steps: [{ tool: "exit", args: {} }] },
 *   tools: ["exit"],
 *   capabilities: [],
 *   budgets: {},
 *   memory: [],
 * }, { source: "examples/images/hello.jsonc" });
 * images.get("hello").version; // "1.0.0"
 * ```
 */
export class ImageRegistry {
  /** id → version → record, in registration order. */
  #versions = new Map<string, Map<string, ImageRecord>>();
  /** id → the current version. */
  #current = new Map<string, string>();

  /**
   * Registers an image. The same id and version with identical content is a
   * no-op returning the existing record; with different content it is
   * `EEXIST` (a version is immutable). A new version becomes the current one.
   */
  register(image: AgentImage, options: RegisterImageOptions = {}): ImageRecord {
    const existing = this.#versions.get(image.id)?.get(image.version);
    if (existing !== undefined) {
      if (_canonical(existing.image) === _canonical(image)) return existing;
      throw libosError(
        "EEXIST",
        `Cannot register image '${image.id}@${image.version}': ` +
          `version ${image.version} is registered already with different content; give it a new version`,
        { field: "version" },
      );
    }
    const record: ImageRecord = {
      id: image.id,
      version: image.version,
      source: options.source ?? null,
      image: structuredClone(image),
      registeredAt: options.now ?? Date.now(),
    };
    this.#put(record);
    this.#current.set(record.id, record.version);
    return record;
  }

  /**
   * The record of an image: its current version, or the named one. An unknown
   * id or version is `ENOENT`, listing what is known when that is short.
   */
  get(id: string, version?: string): ImageRecord {
    const versions = this.#versions.get(id);
    if (versions === undefined) {
      const known = [...this.#current.keys()].sort();
      const hint = known.length === 0
        ? "no images are registered"
        : known.length <= LIST_AT_MOST
        ? `known images: ${known.join(", ")}`
        : `${known.length} images are registered`;
      throw libosError("ENOENT", `Cannot find image '${id}': no such image; ${hint}`, {
        field: "image",
      });
    }
    const wanted = version ?? this.#current.get(id)!;
    const record = versions.get(wanted);
    if (record === undefined) {
      const known = [...versions.keys()];
      const hint = known.length <= LIST_AT_MOST
        ? `known versions: ${known.join(", ")}`
        : `${known.length} versions are registered`;
      throw libosError("ENOENT", `Cannot find image '${id}@${wanted}': no such version; ${hint}`, {
        field: "version",
      });
    }
    return record;
  }

  /** Whether an image with this id is registered (any version). */
  has(id: string): boolean {
    return this.#versions.has(id);
  }

  /** The current version of every image, sorted by id. */
  list(): ImageRecord[] {
    return [...this.#current.keys()].sort().map((id) => this.get(id));
  }

  /** Every version of one image, oldest registration first; empty for an unknown id. */
  versions(id: string): ImageRecord[] {
    return [...(this.#versions.get(id)?.values() ?? [])].sort(
      (a, b) => a.registeredAt - b.registeredAt,
    );
  }

  /**
   * Restores records from the store at boot, keeping their sources and
   * times. The current version of each id is the one registered last
   * (by `registeredAt`; on a tie, the later record in `records`). A record
   * conflicting with one already held (same id and version, different
   * content) is `EEXIST`.
   */
  load(records: readonly ImageRecord[]): void {
    for (const record of records) {
      const existing = this.#versions.get(record.id)?.get(record.version);
      if (existing !== undefined) {
        if (_canonical(existing.image) === _canonical(record.image)) continue;
        throw libosError(
          "EEXIST",
          `Cannot load image '${record.id}@${record.version}': ` +
            `a different image with this version is registered already`,
          { field: "version" },
        );
      }
      this.#put(structuredClone(record));
      const current = this.#current.get(record.id);
      const currentAt = current === undefined
        ? -Infinity
        : this.#versions.get(record.id)!.get(current)!.registeredAt;
      if (record.registeredAt >= currentAt) this.#current.set(record.id, record.version);
    }
  }

  #put(record: ImageRecord): void {
    let versions = this.#versions.get(record.id);
    if (versions === undefined) {
      versions = new Map();
      this.#versions.set(record.id, versions);
    }
    versions.set(record.version, record);
  }
}

/** JSON with sorted keys, so that equal content compares equal whatever its key order. */
function _canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) {
      Object.defineProperty(sorted, key, {
        value: (v as Record<string, unknown>)[key],
        enumerable: true,
      });
    }
    return sorted;
  });
}
