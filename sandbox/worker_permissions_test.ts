import assert from "node:assert/strict";
import {
  DIRECT_ACCESS,
  type GrantView,
  PERMISSION_KINDS,
  type PermissionKind,
  workerPermissions,
} from "./worker_permissions.ts";

function grant(resource: string, rights: string[], extra: Partial<GrantView> = {}): GrantView {
  return {
    resource,
    rights,
    effect: "allow",
    revoked: false,
    expiresAt: null,
    uses: null,
    ...extra,
  };
}

const EVERYTHING: GrantView[] = [
  grant("fs:**", ["read", "write", "delete", "list"]),
  grant("net:*", ["fetch"]),
  grant("shell:*", ["exec"]),
  grant("obj:**", ["read", "write"]),
  grant("proc", ["spawn", "fork"]),
  grant("model:*/*", ["call"]),
  grant("tool", ["register"]),
];

const NONE = Object.fromEntries(PERMISSION_KINDS.map((k) => [k, false]));

Deno.test("a worker holds no direct permission of any kind, whatever its process holds", () => {
  assert.equal(DIRECT_ACCESS.size, 0);
  const matrix = {
    noGrants: workerPermissions([]),
    readOnly: workerPermissions([grant("fs:src/**", ["read"])]),
    everything: workerPermissions(EVERYTHING),
  };
  assert.deepEqual(matrix, { noGrants: NONE, readOnly: NONE, everything: NONE });
});

Deno.test("with direct access allowed, the result is a subset of the live allow grants", () => {
  const all = new Set<PermissionKind>(PERMISSION_KINDS);
  const grants = [
    grant("fs:src/**", ["read"]),
    grant("fs:out/**", ["write"]),
    grant("fs:secret/**", ["read"], { effect: "deny" }),
    grant("fs:old/**", ["read"], { revoked: true }),
    grant("fs:spent/**", ["read"], { uses: 0 }),
    grant("fs:expired/**", ["read"], { expiresAt: 1000 }),
    grant("fs:later/**", ["read"], { effect: "ask" }),
    grant("net:example.com", ["fetch"]),
    grant("shell:git", ["exec"]),
  ];
  const got = workerPermissions(grants, { now: 2000, direct: all });
  assert.deepEqual(got, {
    env: false,
    ffi: false,
    import: ["example.com"],
    net: ["example.com"],
    read: ["src/**"],
    run: ["git"],
    sys: false,
    write: ["out/**"],
  });
  // Every resource granted to the worker names a grant the process holds.
  const held = new Set(grants.map((g) => g.resource.slice(g.resource.indexOf(":") + 1)));
  for (const kind of PERMISSION_KINDS) {
    const value = got[kind];
    if (value !== false) { for (const r of value) assert.ok(held.has(r), `${kind}: ${r}`); }
  }
});

Deno.test("env, ffi and sys are never derived from capabilities", () => {
  const all = new Set<PermissionKind>(PERMISSION_KINDS);
  const got = workerPermissions(EVERYTHING, { direct: all });
  assert.deepEqual([got.env, got.ffi, got.sys], [false, false, false]);
});
