/**
 * Who a request forwarded from another kernel is from: the owner's
 * {@linkcode Forwarder} serves it through this control plane's own routes,
 * in-process, as the principal the forwarding kernel authenticated. The
 * request carries a one-time nonce in {@linkcode FORWARDED_AS_HEADER}; the
 * authorization middleware takes the principal registered under it (an
 * unknown nonce is refused like an unknown token). The nonce never leaves
 * the process and lives only while its request is served.
 *
 * @module
 */
import type { Principal } from "./token_store.ts";

/** The header naming a forwarded request's nonce. */
export const FORWARDED_AS_HEADER = "x-libos-forwarded-as";

const _principals = new Map<string, Principal>();

/** Serves `fn` with a nonce standing for `principal`; the nonce dies after. */
export async function asPrincipal<T>(
  principal: Principal,
  fn: (nonce: string) => Promise<T>,
): Promise<T> {
  const nonce = crypto.randomUUID();
  _principals.set(nonce, principal);
  try {
    return await fn(nonce);
  } finally {
    _principals.delete(nonce);
  }
}

/** The principal a live nonce stands for, or null. */
export function forwardedPrincipal(nonce: string): Principal | null {
  return _principals.get(nonce) ?? null;
}
