/**
 * Where the admin token comes from: `LIBOS_ADMIN_TOKEN` when it is set, else
 * `<data>/admin.token`, which is generated (mode 0600) at the first start.
 *
 * @module
 */
import { join } from "node:path";
import { MIN_TOKEN_LENGTH } from "./token_store.ts";

/** Options of {@linkcode resolveAdminToken}. */
export interface AdminTokenOptions {
  /** The data directory holding `admin.token`. */
  dataDir: string;
  /** The value of `LIBOS_ADMIN_TOKEN`, if set (default: none). */
  env?: string | undefined;
}

/** The admin token and where it came from. */
export interface AdminToken {
  token: string;
  /** `env`: from LIBOS_ADMIN_TOKEN; `file`: read from the file; `generated`: written just now. */
  source: "env" | "file" | "generated";
  /** The file, when the token lives in one. */
  path: string | null;
}

/**
 * Resolves the admin token. A generated token is written with `createNew` and
 * mode 0600, so two kernels starting at once never overwrite each other's.
 */
export async function resolveAdminToken(options: AdminTokenOptions): Promise<AdminToken> {
  if (options.env !== undefined && options.env !== "") {
    if (options.env.length < MIN_TOKEN_LENGTH) {
      throw new TypeError(
        `Cannot use LIBOS_ADMIN_TOKEN: it must be at least ${MIN_TOKEN_LENGTH} characters`,
      );
    }
    return { token: options.env, source: "env", path: null };
  }
  const path = join(options.dataDir, "admin.token");
  try {
    const token = (await Deno.readTextFile(path)).trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new TypeError(
        `Cannot use the admin token in '${path}': it must be at least ${MIN_TOKEN_LENGTH} characters`,
      );
    }
    return { token, source: "file", path };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = `libos_admin_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  await Deno.mkdir(options.dataDir, { recursive: true });
  await Deno.writeTextFile(path, `${token}\n`, { createNew: true, mode: 0o600 });
  // The umask may have narrowed the mode; never widened it. Make it exact.
  await Deno.chmod(path, 0o600);
  return { token, source: "generated", path };
}
