/**
 * Where a kernel keeps its store: the embedded SQLite database in its data
 * directory (the default), or a PostgreSQL database named by URL. The
 * command line takes it as `--store` or `LIBOS_STORE`.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { PostgresStore } from "./postgres_store.ts";
import { hideUrlPassword } from "./postgres_url.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { Store } from "./store.ts";

/** A store's place: SQLite in the data directory, or PostgreSQL at a URL. */
export type StoreLocation = { kind: "sqlite" } | { kind: "postgres"; url: string };

/** The SQLite file of a data directory. */
export const SQLITE_FILE = "kernel.db";

/**
 * Reads a store location: absent, empty or `sqlite` is SQLite in the data
 * directory; a `postgres://` or `postgresql://` URL is PostgreSQL (its
 * `?schema=NAME` chooses the schema, default `libos`). Anything else is a
 * `TypeError` naming the value (its password hidden).
 */
export function parseStoreLocation(text: string | undefined): StoreLocation {
  const value = text?.trim() ?? "";
  if (value === "" || value === "sqlite") return { kind: "sqlite" };
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: "postgres", url: value };
  throw new TypeError(
    `Cannot use store '${
      hideUrlPassword(value)
    }': expected 'sqlite' or a URL postgres://user@host:5432/db[?schema=NAME]`,
  );
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** The kernel's data directory: SQLite keeps `kernel.db` there. */
  dataDir: string;
}

/**
 * Opens a kernel's store for writing (creating and migrating its schema).
 * The caller holds the data directory's lock while the store is open.
 */
export async function openStore(
  location: StoreLocation,
  options: OpenStoreOptions,
): Promise<Store> {
  switch (location.kind) {
    case "sqlite":
      return await SqliteStore.open(join(options.dataDir, SQLITE_FILE));
    case "postgres":
      // The data directory, under its lock, is the kernel's node.
      return await PostgresStore.open(location.url, { node: _node(options.dataDir) });
    default:
      location satisfies never;
      throw new TypeError(`Cannot open store: unknown kind`);
  }
}

/** A data directory's identity as a cluster node: host and absolute path. */
function _node(dataDir: string): string {
  let host = "unknown";
  try {
    host = Deno.hostname();
  } catch {
    // No sys permission: the path alone.
  }
  return `${host}:${resolve(dataDir)}`;
}
