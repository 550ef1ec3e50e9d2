/**
 * What the CLI reads besides its arguments: environment variables, files
 * (a token, a database), the store's location and durations.
 *
 * @module
 */
import { parseStoreLocation, type StoreLocation } from "../mod.ts";
import { safeLine } from "./terminal.ts";

/** An environment variable; unset when empty. */
export function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : v;
}

/** Whether a path exists (a dangling symlink does). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A token file's text, trimmed; null when there is no such file. */
export async function readToken(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The store `--store` (else LIBOS_STORE) names; null after printing why it is not one. */
export function storeLocation(flag: string | undefined): StoreLocation | null {
  try {
    return parseStoreLocation(flag ?? env("LIBOS_STORE"));
  } catch (error) {
    console.error(safeLine`libos: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** A duration such as `24h`, `30m`, `90s` or `500ms` in ms (at least 1 ms), or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) return null;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!]!;
  const ms = Number(m[1]) * unit;
  return ms >= 1 && Number.isSafeInteger(ms) ? ms : null;
}
