/**
 * The Deno permissions a tool worker holds directly, computed from its
 * process's capabilities by one rule: a worker may hold a permission only if
 * a live `allow` grant of the process names it (so the set is always a subset
 * of the capabilities), and only for a kind of access the sandbox lets
 * workers make directly. The syscall proxy serves every kind of I/O, so that
 * second set is empty and the result is "none" for every kind: the worker's
 * reach is the proxy, where each access is decided, journaled and audited.
 *
 * @module
 */
import type { Grant } from "../runtime/mod.ts";

/** The kinds of Deno permission a worker can hold. */
export const PERMISSION_KINDS = [
  "env",
  "ffi",
  "import",
  "net",
  "read",
  "run",
  "sys",
  "write",
] as const;

/** A kind of Deno permission. */
export type PermissionKind = (typeof PERMISSION_KINDS)[number];

/** A worker's permissions: `false`, or the exact resources it may reach directly. */
export type WorkerPermissions = { [K in PermissionKind]: false | string[] };

/**
 * The kinds of access a worker may make without the proxy. Empty: files, the
 * network, subprocesses, the environment and the system all go through
 * syscalls, which the kernel decides, journals and audits.
 */
export const DIRECT_ACCESS: ReadonlySet<PermissionKind> = new Set<PermissionKind>();

/** Which capability (resource kind and right) could justify which Deno permission. */
const _JUSTIFIED_BY: Record<PermissionKind, { kind: string; rights: string[] } | null> = {
  env: null,
  ffi: null,
  import: { kind: "net", rights: ["fetch"] },
  net: { kind: "net", rights: ["fetch"] },
  read: { kind: "fs", rights: ["read", "list"] },
  run: { kind: "shell", rights: ["exec"] },
  sys: null,
  write: { kind: "fs", rights: ["write", "delete"] },
};

/** The grant fields the rule reads. */
export type GrantView = Pick<
  Grant,
  "resource" | "rights" | "effect" | "revoked" | "expiresAt" | "uses"
>;

/**
 * The permissions of a worker serving a process that holds `grants`, at time
 * `now` (epoch ms): for each kind, the resources of live `allow` grants that
 * justify it, kept only where {@linkcode DIRECT_ACCESS} allows the kind.
 */
export function workerPermissions(
  grants: readonly GrantView[],
  options: { now?: number; direct?: ReadonlySet<PermissionKind> } = {},
): WorkerPermissions {
  const now = options.now ?? Date.now();
  const direct = options.direct ?? DIRECT_ACCESS;
  const out = {} as WorkerPermissions;
  for (const kind of PERMISSION_KINDS) {
    const rule = _JUSTIFIED_BY[kind];
    if (rule === null || !direct.has(kind)) {
      out[kind] = false;
      continue;
    }
    const resources: string[] = [];
    for (const g of grants) {
      const live = !g.revoked && g.effect === "allow" &&
        (g.expiresAt === null || g.expiresAt > now) && (g.uses === null || g.uses > 0);
      const colon = g.resource.indexOf(":");
      const resourceKind = colon < 0 ? g.resource : g.resource.slice(0, colon);
      if (live && resourceKind === rule.kind && g.rights.some((r) => rule.rights.includes(r))) {
        resources.push(colon < 0 ? "" : g.resource.slice(colon + 1));
      }
    }
    out[kind] = resources.length === 0 ? false : resources;
  }
  return out;
}
