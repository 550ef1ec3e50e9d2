/**
 * Bearer tokens of the control plane. The admin token is given at boot (from
 * `LIBOS_ADMIN_TOKEN` or `<data>/admin.token`) and only its hash is kept in
 * memory; an admin mints further tokens, each with a role, stored hashed
 * (SHA-256) in the kernel's durable settings and revocable. A secret is shown
 * once, when it is minted. Each mint and each revocation is its own audit
 * record (`token.create`, `token.revoke`) naming the token and the actor. Comparison is constant-time and checks every live
 * token, so the time taken says nothing about which token (if any) matched.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { type GrantSpec, type Kernel, libosError, validateGrantSpec } from "../runtime/mod.ts";

/** The roles, weakest first: each holds every right of the ones before it. */
export const ROLES = ["viewer", "operator", "admin"] as const;

/** A token's role: `viewer` reads, `operator` also acts on processes and the human queue, `admin` does everything. */
export type Role = typeof ROLES[number];

/** Whether a holder of `held` may do what needs `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** Who a request acts as. */
export interface Principal {
  /** `admin` for the boot token, else the minted token's id (`t_<n>`). */
  id: string;
  /** Unique name; the audit log records the actor as `token:<name>`. */
  name: string;
  role: Role;
  /** Its authority ceiling; null: none (an admin). */
  ceiling: GrantSpec[] | null;
}

/** A token's public description: never its secret or hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  /** The actor that minted it (`token:<name>`). */
  createdBy: string;
  revoked: boolean;
  /** What processes may be given through it; null: no ceiling (an admin). */
  ceiling: GrantSpec[] | null;
}

interface _Stored extends TokenInfo {
  /** Hex SHA-256 of the secret. */
  hash: string;
}

/** Options of {@linkcode TokenStore.open}. */
export interface TokenStoreOptions {
  /** The admin token's secret. Required: a control plane always has an admin. */
  adminToken: string;
}

/** The meta key under which minted tokens are kept. */
const META_KEY = "api.tokens";
/** Secrets shorter than this are refused (the admin token included). */
export const MIN_TOKEN_LENGTH = 16;

/** The control plane's bearer tokens. */
export class TokenStore {
  readonly #kernel: Kernel;
  readonly #admin: Buffer;
  #tokens: _Stored[];
  /** Decoded hashes by token id (a token's hash never changes). */
  readonly #digests = new Map<string, Buffer>();
  #next: number;

  private constructor(kernel: Kernel, adminHash: Buffer, tokens: _Stored[]) {
    this.#kernel = kernel;
    this.#admin = adminHash;
    this.#tokens = tokens;
    this.#next = tokens.reduce((n, t) => Math.max(n, Number(t.id.slice(2)) || 0), 0) + 1;
  }

  /** Loads the minted tokens from the kernel's durable settings. */
  static open(kernel: Kernel, options: TokenStoreOptions): TokenStore {
    if (typeof options.adminToken !== "string" || options.adminToken.length < MIN_TOKEN_LENGTH) {
      throw new TypeError(
        `Cannot use the admin token: it must be at least ${MIN_TOKEN_LENGTH} characters`,
      );
    }
    const saved = kernel.getMeta(META_KEY);
    const tokens = Array.isArray(saved) ? (saved as _Stored[]) : [];
    return new TokenStore(kernel, _digest(options.adminToken), tokens);
  }

  /**
   * The principal a secret authenticates, or null. Every live token is
   * compared (constant-time each), whatever matches first.
   */
  authenticate(secret: string): Principal | null {
    if (secret.length < MIN_TOKEN_LENGTH || secret.length > 512) return null;
    const presented = _digest(secret);
    let found: Principal | null = null;
    if (timingSafeEqual(presented, this.#admin)) {
      found = { id: "admin", name: "admin", role: "admin", ceiling: null };
    }
    for (const t of this.#tokens) {
      let digest = this.#digests.get(t.id);
      if (digest === undefined) {
        digest = Buffer.from(t.hash, "hex");
        this.#digests.set(t.id, digest);
      }
      const match = timingSafeEqual(presented, digest);
      if (match && !t.revoked && found === null) {
        found = { id: t.id, name: t.name, role: t.role, ceiling: _ceilingOf(t) };
      }
    }
    return found;
  }

  /** Minted tokens (live and revoked), oldest first. */
  list(): TokenInfo[] {
    return this.#tokens.map(_info);
  }

  /**
   * Mints a token; the secret is in the result and nowhere else. A name
   * already in use (or `admin`) is `EEXIST`.
   */
  async create(
    request: { role: Role; name?: string; ceiling?: GrantSpec[] },
    options: { actor: string },
  ): Promise<{ token: string; info: TokenInfo }> {
    const id = `t_${this.#next}`;
    if (request.role === "admin" && request.ceiling !== undefined) {
      throw libosError(
        "EINVAL",
        "Cannot create an admin token with a ceiling: admin tokens have none; mint an operator",
      );
    }
    const now = this.#kernel.clock.now();
    const ceiling = request.role === "admin"
      ? null
      : (request.ceiling ?? []).map((spec) => validateGrantSpec(spec, now));
    const name = request.name ?? `${request.role}-${this.#next}`;
    if (name === "admin" || this.#tokens.some((t) => t.name === name)) {
      throw libosError("EEXIST", `Cannot create token '${name}': the name is taken`);
    }
    this.#next++;
    const secret = `libos_${_base64url(crypto.getRandomValues(new Uint8Array(32)))}`;
    const stored: _Stored = {
      id,
      name,
      role: request.role,
      createdAt: this.#kernel.clock.now(),
      createdBy: options.actor,
      revoked: false,
      ceiling,
      hash: _digest(secret).toString("hex"),
    };
    this.#tokens.push(stored);
    await this.#save(options.actor, "token.create", stored);
    return { token: secret, info: _info(stored) };
  }

  /** Revokes a minted token (the admin token is revoked by changing it at boot). */
  async revoke(id: string, options: { actor: string }): Promise<TokenInfo> {
    const t = this.#tokens.find((x) => x.id === id);
    if (t === undefined) throw libosError("ENOENT", `Cannot revoke token '${id}': no such token`);
    if (t.revoked) throw libosError("ESTATE", `Cannot revoke token '${id}': it is already revoked`);
    t.revoked = true;
    await this.#save(options.actor, "token.revoke", t);
    return _info(t);
  }

  /**
   * Saves the tokens with an audit record of the change that names the token
   * (id, name, role), never its secret or hash; the record's actor is who did it.
   */
  async #save(actor: string, action: "token.create" | "token.revoke", t: _Stored): Promise<void> {
    await this.#kernel.putMeta(META_KEY, this.#tokens, {
      actor,
      audit: { action, detail: { id: t.id, name: t.name, role: t.role } },
    });
  }
}

function _digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

function _info(t: _Stored): TokenInfo {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    revoked: t.revoked,
    ceiling: _ceilingOf(t),
  };
}

/** A stored token's ceiling (tokens minted before ceilings: none for admins, empty else). */
function _ceilingOf(t: _Stored): GrantSpec[] | null {
  if (t.role === "admin") return null;
  return structuredClone(t.ceiling ?? []);
}

function _base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}
