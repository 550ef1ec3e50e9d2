/**
 * The net primitive: `fetch` under `net:<host>[:port]` grants. The first hop
 * is decided like any syscall (deny, ask, uses) and spent and audited before
 * anything is connected; each redirect, and each connection a sandboxed
 * program makes through the kernel's proxy, is a request of its own
 * ({@linkcode netRequest}); a special address needs a grant naming it
 * ({@linkcode special}).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { escapePreview } from "../human/preview.ts";
import { classifyHost, type HostClass, normalizeHost } from "../substrate/address.ts";
import type { SyscallEngine } from "../engine/engine.ts";
import { b64, utf8OrNull } from "../engine/json_safe.ts";
import { PRIMITIVES } from "./table.ts";

/** The audit action of every network request (a fetch, its redirects, a program's connections). */
const FETCH = PRIMITIVES["net.fetch"].audit;

/** The result of `net.fetch`: the body as text, or as base64 when it is not UTF-8. */
export interface FetchResult {
  status: number;
  headers: Record<string, string>;
  url: string;
  redirects: string[];
  text?: string;
  base64?: string;
}

/**
 * Fetches a URL under a `net:<host>[:port]` grant. Every hop (redirects
 * too) and every address a name resolves to is decided before anything
 * is connected; a loopback, private or link-local address in any spelling
 * needs an explicit grant naming it (no wildcard).
 */
export function fetchUrl(
  e: SyscallEngine,
  request: { url: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<FetchResult> {
  const method = (request.method ?? "GET").toUpperCase();
  const args = {
    url: request.url,
    method,
    headers: request.headers ?? {},
    body: request.body ?? null,
  };
  const idempotent = method === "GET" || method === "HEAD";
  return e.syscall("net.fetch", args, async (c) => {
    const k = e.k;
    if (k.net === null) {
      throw libosError("EINVAL", "Cannot fetch: this kernel has no network provider");
    }
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw libosError(
        "EINVAL",
        `Cannot fetch '${escapePreview(String(request.url), { max: 200 })}': not an absolute URL`,
      );
    }
    // The first hop is decided by the engine like any syscall (deny, ask,
    // uses), and spent and audited before anything is connected.
    const resource = `net:${normalizeHost(url.hostname)}:${port(url)}`;
    const authz = e.authorize(c, c.audit, resource, "fetch", {
      args,
      preview: `${method} ${url.href}${
        request.body === undefined ? "" : `\n${String(request.body)}`
      }`,
    });
    const literal = classifyHost(url.hostname);
    if (!e.redo(c)) special(e, url, literal, port(url));
    await e.effect(c, [authz], { url: url.href }, { url: url.href, method });
    let hops = 0;
    const authorize = (hop: URL, address: HostClass) => {
      // A hop's host: the first was decided above; each redirect is a
      // request of its own. An address a name resolved to: a public one is
      // covered by the name's decision, a special one needs a grant naming it.
      if (isHostCheck(hop, address)) {
        if (hops++ > 0) netRequest(e, hop, address, { redirect: hops - 1 });
      } else special(e, hop, address, port(hop));
    };
    const res = await k.net.fetch({
      url: url.href,
      method,
      ...(request.headers === undefined ? {} : { headers: request.headers }),
      ...(request.body === undefined ? {} : { body: request.body }),
    }, { authorize });
    const text = utf8OrNull(res.body);
    return {
      status: res.status,
      headers: res.headers,
      url: res.url,
      redirects: res.redirects,
      ...(text === null ? { base64: b64(res.body) } : { text }),
    };
  }, {
    idempotent,
    // What a remote server did is out of the kernel's sight.
    evidence: () =>
      Promise.resolve([
        `${method} ${escapePreview(String(request.url), { max: 500 })}`,
        "none the kernel can check: the effect, if any, is on the remote server",
      ]),
  });
}

/**
 * Decides one network request that is not the syscall's own first hop (a
 * fetch's redirect, a sandboxed program's connection through the kernel's
 * proxy): `net:<host>:<port>` must be allowed outright (no human can be
 * asked mid-flight), a special literal address needs a grant naming it;
 * the decision is audited and a one-time grant spent, as its own request.
 */
export function netRequest(
  e: SyscallEngine,
  hop: URL,
  address: HostClass,
  detail: Record<string, unknown>,
): void {
  const target = `net:${normalizeHost(hop.hostname)}:${port(hop)}`;
  const d = e.k.authorizer.decide(e.pid, target, "fetch");
  if (d.decision !== "allow") {
    throw e.deny(FETCH, target, "fetch", d.grant, {
      url: hop.href,
      ...detail,
      ...(d.decision === "ask"
        ? { reason: "a request made in flight cannot wait for a human" }
        : {}),
    });
  }
  special(e, hop, address, port(hop));
  e.allowed(
    {
      action: FETCH,
      resource: target,
      right: "fetch",
      grant: d.grant,
      request: null,
      spent: false,
    },
    { url: hop.href, ...detail },
  );
}

/**
 * A loopback, private, link-local or otherwise special address is reached
 * only under an explicit grant naming it (no wildcard covers one); refused
 * with EPERM and audited otherwise.
 */
export function special(e: SyscallEngine, hop: URL, address: HostClass, port: string): void {
  if (address.kind === "name" || address.kind === "public" || address.address === null) return;
  const target = `net:${address.address}:${port}`;
  const d = e.k.authorizer.decide(e.pid, target, "fetch");
  if (e.k.authorizer.explicit(d)) return;
  e.audit(FETCH, {
    resource: target,
    decision: "deny",
    grant: d.grant,
    detail: {
      url: hop.href,
      address: address.address,
      kind: address.kind,
      reason: "a special address needs an explicit grant naming it",
    },
  });
  throw libosError(
    "EPERM",
    `Cannot fetch '${hop.href}': ${address.address} is a ${address.kind} address, and process ${e.pid} holds no explicit net fetch capability for ${target}`,
    { pid: e.pid, resource: target, right: "fetch" },
  );
}

/** The port of a URL, its scheme's default when unwritten. */
export function port(url: URL): string {
  return url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
}

/** Whether `authorize` is called for a hop's host (a name, or a literal) rather than a resolved address. */
export function isHostCheck(hop: URL, address: HostClass): boolean {
  return address.kind === "name" || address.address === normalizeHost(hop.hostname);
}
