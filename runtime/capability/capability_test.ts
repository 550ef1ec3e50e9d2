import assert from "node:assert/strict";
import { GrantTable } from "./grant_table.ts";
import {
  covers,
  decide,
  delegate,
  isLive,
  issueGrant,
  matchPattern,
  overlaps,
  parseResource,
  shellResource,
  specificity,
  validateGrantSpec,
} from "./capability.ts";
import { hasCode, LibosError } from "../errors.ts";
import type { ResourceKind } from "../images/schemas.ts";
import type { Grant } from "../types.ts";

const NOW = Date.UTC(2030, 0, 1);

function grant(id: string, resource: string, rights: string[], extra: Partial<Grant> = {}): Grant {
  return {
    id,
    subject: "p_1",
    resource,
    rights,
    effect: "allow",
    uses: null,
    expiresAt: null,
    delegable: true,
    parentId: null,
    issuedBy: "operator:root",
    revoked: false,
    createdAt: 0,
    ...extra,
  };
}

function ids(prefix = "g") {
  let n = 0;
  return () => `${prefix}${++n}`;
}

const CHILD = { subject: "p_2", issuedBy: "pid:p_1", now: NOW };

function throwsCode(fn: () => unknown, code: string, message?: RegExp): LibosError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LibosError, `expected a LibosError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

Deno.test("parseResource() splits the kind from the pattern and knows the bare kinds", () => {
  assert.deepEqual(parseResource("fs:src/**"), { kind: "fs", pattern: "src/**" });
  assert.deepEqual(parseResource("net:example.com:443"), {
    kind: "net",
    pattern: "example.com:443",
  });
  assert.deepEqual(parseResource("proc"), { kind: "proc", pattern: "" });
  assert.deepEqual(parseResource("checkpoint"), { kind: "checkpoint", pattern: "" });
  assert.deepEqual(parseResource("proc:*"), { kind: "proc", pattern: "*" });
});

Deno.test("parseResource() refuses unknown kinds, missing patterns and control characters", () => {
  throwsCode(() => parseResource("disk:/"), "EINVAL", /unknown kind 'disk'.*expected one of fs/);
  throwsCode(() => parseResource("fs"), "EINVAL", /needs a pattern after 'fs:'/);
  throwsCode(() => parseResource("net:"), "EINVAL", /needs a pattern/);
  const error = throwsCode(() => parseResource("fs:a\u0000b"), "EINVAL", /control characters/);
  assert.equal(error.fields.resource, "fs:a\u0000b");
  throwsCode(() => parseResource("fs:a\u001b[31m"), "EINVAL");
  throwsCode(() => parseResource("fs:a\u202eb"), "EINVAL");
});

Deno.test("matchPattern() follows the glob rules of every kind", () => {
  const table: [ResourceKind, string, string, boolean][] = [
    ["fs", "src/a.ts", "src/a.ts", true],
    ["fs", "src/a.ts", "src/a.tsx", false],
    ["fs", "src/**", "src", true],
    ["fs", "src/**", "src/a.ts", true],
    ["fs", "src/**", "src/deep/er/a.ts", true],
    ["fs", "src/**", "srcx", false],
    ["fs", "src/**", "srcx/a.ts", false],
    ["fs", "src/**", "lib/src/a.ts", false],
    ["fs", "src/*", "src/a.ts", true],
    ["fs", "src/*", "src/deep/a.ts", false],
    ["fs", "src/*", "src", false],
    ["fs", "src/*.ts", "src/a.ts", true],
    ["fs", "src/*.ts", "src/a.js", false],
    ["fs", "src/?.ts", "src/a.ts", true],
    ["fs", "src/?.ts", "src/ab.ts", false],
    ["fs", "src/?", "src//", false],
    ["fs", "src/**/a.ts", "src/a.ts", true],
    ["fs", "src/**/a.ts", "src/x/y/a.ts", true],
    ["fs", "src/**/a.ts", "src/x/ya.ts", false],
    ["fs", "**/*.env", ".env", true],
    ["fs", "**/*.env", "a/b/prod.env", true],
    ["fs", "**", "anything/at/all", true],
    ["fs", "**", ".", true],
    ["fs", "*", ".", true],
    ["fs", "a.b", "axb", false],
    ["fs", "a+(b)", "a+(b)", true],
    ["fs", "[ab]", "a", false],
    ["fs", "[ab]", "[ab]", true],
    ["fs", "$x^", "$x^", true],
    ["obj", "proc/p_1/**", "proc/p_1/notes", true],
    ["obj", "proc/p_1/*", "proc/p_12/notes", false],
    ["obj", "shared/*", "shared/plan", true],
    ["net", "example.com", "example.com:443", true],
    ["net", "example.com", "example.com", true],
    ["net", "example.com:443", "example.com:80", false],
    ["net", "example.com:443", "example.com:443", true],
    ["net", "Example.COM", "example.com:443", true],
    ["net", "*.example.com", "api.example.com:443", true],
    ["net", "*.example.com", "example.com:443", false],
    ["net", "*.example.com", "evil.com:1.example.com", false],
    ["net", "*:443", "example.com:443", true],
    ["net", "*:443", "example.com:8443", false],
    ["net", "**", "example.com:443", true],
    ["net", "[::1]", "[::1]:8080", true],
    ["shell", "git", "git", true],
    ["shell", "git", "git status --short", true],
    ["shell", "git", "gitx status", false],
    ["shell", "git status", "git status", true],
    ["shell", "git status", "git status --short", false],
    ["shell", "git log *", "git log src/a.ts", true],
    ["shell", "git log *", "git log a b", false],
    ["shell", "git log **", "git log a b", true],
    ["proc", "", "", true],
    ["proc", "*", "", true],
    ["model", "openai/*", "openai/gpt-5", true],
    ["model", "openai/*", "anthropic/claude", false],
    ["human", "*", "operator", true],
  ];
  const failures = table
    .filter(([kind, pattern, target, expected]) => matchPattern(pattern, target, kind) !== expected)
    .map(([kind, pattern, target, expected]) => `${kind}:${pattern} vs ${target}: ${!expected}`);
  assert.deepEqual(failures, []);
});

Deno.test("matchPattern() compares NFC forms of a pattern", () => {
  assert.ok(matchPattern("cafe\u0301/**", "caf\u00e9/menu", "fs"));
});

Deno.test("specificity() ranks exact over glob, longer prefix over shorter, * over **", () => {
  const ordered = ["src/lib/a.ts", "src/a.ts", "src/lib/**", "src/*.ts", "src/*", "src/**", "**"];
  const sorted = [...ordered].sort((a, b) => specificity(b) - specificity(a));
  assert.deepEqual(sorted, ordered);
  assert.ok(specificity("example.com:443") > specificity("example.com"));
});

Deno.test("isLive() rejects revoked, expired and spent grants", () => {
  assert.ok(isLive(grant("a", "proc", ["spawn"]), NOW));
  assert.ok(!isLive(grant("a", "proc", ["spawn"], { revoked: true }), NOW));
  assert.ok(!isLive(grant("a", "proc", ["spawn"], { expiresAt: NOW }), NOW));
  assert.ok(isLive(grant("a", "proc", ["spawn"], { expiresAt: NOW + 1 }), NOW));
  assert.ok(!isLive(grant("a", "proc", ["spawn"], { uses: 0 }), NOW));
  assert.ok(isLive(grant("a", "proc", ["spawn"], { uses: 1 }), NOW));
});

Deno.test("decide() lets deny beat a more specific allow", () => {
  const deny = grant("d", "fs:**", ["write"], { effect: "deny" });
  const allow = grant("a", "fs:src/a.ts", ["write"]);
  assert.deepEqual(decide([allow, deny], "fs:src/a.ts", "write", NOW), {
    decision: "deny",
    grant: deny,
  });
});

Deno.test("decide() lets the most specific match decide", () => {
  const wide = grant("w", "fs:**", ["read"], { effect: "ask" });
  const narrow = grant("n", "fs:src/**", ["read"]);
  const exact = grant("e", "fs:src/secret.ts", ["read"], { effect: "ask" });
  const grants = [wide, narrow, exact];
  assert.deepEqual(decide(grants, "fs:src/a.ts", "read", NOW), {
    decision: "allow",
    grant: narrow,
  });
  assert.deepEqual(decide(grants, "fs:README.md", "read", NOW), { decision: "ask", grant: wide });
  assert.deepEqual(decide(grants, "fs:src/secret.ts", "read", NOW), {
    decision: "ask",
    grant: exact,
  });
});

Deno.test("decide() prefers ask over allow on a tie of specificity", () => {
  const allow = grant("a", "fs:src/**", ["read"]);
  const ask = grant("k", "fs:src/**", ["read"], { effect: "ask" });
  assert.equal(decide([allow, ask], "fs:src/a.ts", "read", NOW).grant, ask);
  assert.equal(decide([ask, allow], "fs:src/a.ts", "read", NOW).grant, ask);
});

Deno.test("decide() denies with no grant when nothing live matches", () => {
  const cases: [string, Grant][] = [
    ["expired", grant("x", "fs:**", ["read"], { expiresAt: NOW - 1 })],
    ["spent", grant("x", "fs:**", ["read"], { uses: 0 })],
    ["revoked", grant("x", "fs:**", ["read"], { revoked: true })],
    ["other right", grant("x", "fs:**", ["write"])],
    ["other path", grant("x", "fs:lib/**", ["read"])],
    ["other kind", grant("x", "obj:**", ["read"])],
  ];
  const observed = cases.map(([name, g]) => [name, decide([g], "fs:src/a.ts", "read", NOW)]);
  assert.deepEqual(observed, cases.map(([name]) => [name, { decision: "deny", grant: null }]));
});

Deno.test("decide() ignores a dead deny and decides bare kinds", () => {
  const deadDeny = grant("d", "fs:**", ["read"], { effect: "deny", revoked: true });
  const allow = grant("a", "fs:**", ["read"]);
  assert.equal(decide([deadDeny, allow], "fs:x", "read", NOW).decision, "allow");
  const spawn = grant("p", "proc", ["spawn"]);
  assert.equal(decide([spawn], "proc", "spawn", NOW).decision, "allow");
  assert.equal(decide([spawn], "proc", "fork", NOW).decision, "deny");
});

Deno.test("decide() refuses a malformed target with EINVAL", () => {
  throwsCode(() => decide([], "fs:\u0000", "read", NOW), "EINVAL");
});

Deno.test("shellResource() quotes arguments so that one cannot pose as two", () => {
  assert.equal(shellResource("git", ["log", "src/a.ts"]), "shell:git log src/a.ts");
  assert.equal(shellResource("git", ["log", "a b"]), 'shell:git log "a b"');
  const allow = grant("s", "shell:git log *", ["exec"]);
  assert.equal(decide([allow], shellResource("git", ["log", "x"]), "exec", NOW).decision, "allow");
  assert.equal(
    decide([allow], shellResource("git", ["log", "x --output=y"]), "exec", NOW).decision,
    "deny",
  );
});

Deno.test("validateGrantSpec() normalises rights, bare kinds, net case and NFC", () => {
  assert.deepEqual(
    validateGrantSpec({ resource: "fs:src/**", rights: ["write", "read", "write"] }, NOW),
    { resource: "fs:src/**", rights: ["read", "write"] },
  );
  assert.equal(validateGrantSpec({ resource: "proc:*", rights: ["spawn"] }, NOW).resource, "proc");
  assert.equal(
    validateGrantSpec({ resource: "net:API.Example.com", rights: ["fetch"] }, NOW).resource,
    "net:api.example.com",
  );
  assert.equal(
    validateGrantSpec({ resource: "fs:cafe\u0301", rights: ["read"] }, NOW).resource,
    "fs:caf\u00e9",
  );
  const full = validateGrantSpec({
    resource: "fs:.",
    rights: ["list"],
    effect: "ask",
    uses: 2,
    expiresAt: "2031-01-01T00:00:00Z",
    delegable: true,
  }, NOW);
  assert.deepEqual(full, {
    resource: "fs:.",
    rights: ["list"],
    effect: "ask",
    uses: 2,
    expiresAt: "2031-01-01T00:00:00Z",
    delegable: true,
  });
});

Deno.test("validateGrantSpec() names what was wrong and what was expected", () => {
  const cases: [Parameters<typeof validateGrantSpec>[0], RegExp][] = [
    [{ resource: "disk:x", rights: ["read"] }, /unknown kind 'disk'/],
    [{ resource: "fs:src", rights: ["exec"] }, /right 'exec' is not valid for fs.*read, write/],
    [{ resource: "fs:src", rights: [] }, /no rights given/],
    [{ resource: "fs:/etc/**", rights: ["read"] }, /workspace-relative/],
    [{ resource: "fs:C:/x", rights: ["read"] }, /workspace-relative/],
    [{ resource: "fs:src/../x", rights: ["read"] }, /'\.\.' segment/],
    [{ resource: "fs:src//x", rights: ["read"] }, /empty/],
    [{ resource: "net:example.com/path", rights: ["fetch"] }, /host\[:port\]/],
    [{ resource: "proc:p_1", rights: ["spawn"] }, /takes no pattern/],
    [{ resource: "fs:x", rights: ["read"], uses: 0 }, /uses 0 is not a positive integer/],
    [{ resource: "fs:x", rights: ["read"], expiresAt: "soon" }, /not an ISO time/],
    [
      { resource: "fs:x", rights: ["read"], expiresAt: "2029-12-31T23:59:59Z" },
      /not in the future/,
    ],
  ];
  for (const [spec, message] of cases) {
    throwsCode(() => validateGrantSpec(spec, NOW), "EINVAL", message);
  }
  const error = throwsCode(
    () => validateGrantSpec({ resource: "net:x", rights: ["read"] }, NOW),
    "EINVAL",
  );
  assert.deepEqual([error.fields.resource, error.fields.right], ["net:x", "read"]);
});

Deno.test("issueGrant() fills defaults and converts expiresAt to epoch ms", () => {
  const g = issueGrant(
    { resource: "fs:src/**", rights: ["read"], expiresAt: "2030-01-02T00:00:00Z" },
    { ...CHILD, nextId: ids() },
  );
  assert.deepEqual(g, {
    id: "g1",
    subject: "p_2",
    resource: "fs:src/**",
    rights: ["read"],
    effect: "allow",
    uses: null,
    expiresAt: Date.UTC(2030, 0, 2),
    delegable: false,
    parentId: null,
    issuedBy: "pid:p_1",
    revoked: false,
    createdAt: NOW,
  });
});

Deno.test("covers() and overlaps() are conservative pattern relations", () => {
  const coverTable: [ResourceKind, string, string, boolean][] = [
    ["fs", "src/**", "src/**", true],
    ["fs", "src/**", "src/a.ts", true],
    ["fs", "src/**", "src", true],
    ["fs", "src/**", "src/lib/*.ts", true],
    ["fs", "src/**", "srcx/**", false],
    ["fs", "src/**", "**", false],
    ["fs", "src/*", "src/a/b", false],
    ["fs", "src/*", "src/*.ts", false],
    ["fs", "**", "anything/**", true],
    ["net", "example.com", "example.com:443", true],
    ["net", "example.com:443", "example.com", false],
    ["net", "*.example.com", "api.example.com:443", true],
    ["shell", "git", "git status", true],
    ["shell", "git status", "git", false],
    ["proc", "", "", true],
  ];
  const coverFailures = coverTable
    .filter(([kind, parent, child, expected]) => covers(parent, child, kind) !== expected)
    .map(([kind, parent, child]) => `${kind}: ${parent} ⊇ ${child}`);
  assert.deepEqual(coverFailures, []);
  assert.ok(overlaps("src/**", "src/secret/**", "fs"));
  assert.ok(overlaps("**/*.env", "src/**", "fs"));
  assert.ok(!overlaps("lib/**", "src/**", "fs"));
});

Deno.test("delegate() passes a covered request and records the covering grant as parent", () => {
  const parent = grant("g_p", "fs:src/**", ["read", "write"]);
  const out = delegate([parent], { resource: "fs:src/lib/**", rights: ["read"] }, {
    ...CHILD,
    nextId: ids("c"),
  });
  assert.deepEqual(out, [{
    id: "c1",
    subject: "p_2",
    resource: "fs:src/lib/**",
    rights: ["read"],
    effect: "allow",
    uses: null,
    expiresAt: null,
    delegable: false,
    parentId: "g_p",
    issuedBy: "pid:p_1",
    revoked: false,
    createdAt: NOW,
  }]);
});

Deno.test("delegate() refuses more rights than the parent holds, naming both sides", () => {
  const parent = grant("g_p", "fs:src/**", ["read"]);
  const error = throwsCode(
    () =>
      delegate([parent], { resource: "fs:src/**", rights: ["read", "write"] }, {
        ...CHILD,
        nextId: ids(),
      }),
    "EPERM",
  );
  assert.equal(
    error.message,
    "Cannot delegate 'fs:src/**' write to the child: process p_1 holds no delegable allow " +
      "grant covering it (it holds fs:src/** read)",
  );
  assert.deepEqual(error.fields, { resource: "fs:src/**", right: "write" });
});

Deno.test("delegate() refuses a wider pattern than the parent holds", () => {
  const parent = grant("g_p", "fs:src/**", ["read"]);
  throwsCode(
    () => delegate([parent], { resource: "fs:**", rights: ["read"] }, { ...CHILD, nextId: ids() }),
    "EPERM",
    /Cannot delegate 'fs:\*\*' read to the child/,
  );
});

Deno.test("delegate() refuses a grant the parent may not delegate, or holds no longer", () => {
  const cases: Grant[] = [
    grant("g_p", "fs:src/**", ["read"], { delegable: false }),
    grant("g_p", "fs:src/**", ["read"], { revoked: true }),
    grant("g_p", "fs:src/**", ["read"], { expiresAt: NOW }),
    grant("g_p", "fs:src/**", ["read"], { uses: 0 }),
  ];
  for (const parent of cases) {
    throwsCode(
      () =>
        delegate([parent], { resource: "fs:src/a.ts", rights: ["read"] }, {
          ...CHILD,
          nextId: ids(),
        }),
      "EPERM",
    );
  }
  throwsCode(
    () =>
      delegate([cases[0] as Grant], { resource: "fs:src/a.ts", rights: ["read"] }, {
        ...CHILD,
        nextId: ids(),
      }),
    "EPERM",
    /\(it holds fs:src\/\*\* read \[not delegable\]\)/,
  );
});

Deno.test("delegate() refuses allow from an ask grant but passes ask from it", () => {
  const parent = grant("g_p", "fs:**", ["write"], { effect: "ask" });
  const request = { resource: "fs:out/**", rights: ["write"] };
  throwsCode(() => delegate([parent], request, { ...CHILD, nextId: ids() }), "EPERM");
  const out = delegate([parent], { ...request, effect: "ask" }, { ...CHILD, nextId: ids() });
  assert.deepEqual(out.map((g) => [g.resource, g.effect, g.parentId]), [
    ["fs:out/**", "ask", "g_p"],
  ]);
});

Deno.test("delegate() always passes a deny request, which only narrows", () => {
  const out = delegate([], { resource: "fs:**", rights: ["write"], effect: "deny" }, {
    ...CHILD,
    nextId: ids(),
  });
  assert.deepEqual(out.map((g) => [g.resource, g.effect, g.parentId]), [["fs:**", "deny", null]]);
});

Deno.test("delegate() carries the parent's overlapping denies to the child", () => {
  const allow = grant("g_a", "fs:**", ["read", "write"]);
  const deny = grant("g_d", "fs:**/*.env", ["read", "write"], { effect: "deny", delegable: false });
  const unrelated = grant("g_u", "fs:lib/**", ["read"], { effect: "deny" });
  const parents = [allow, deny, unrelated];
  const out = delegate(parents, { resource: "fs:src/**", rights: ["read"] }, {
    ...CHILD,
    nextId: ids("c"),
  });
  assert.deepEqual(
    out.map((g) => [g.resource, g.rights, g.effect, g.parentId, g.delegable]),
    [
      ["fs:src/**", ["read"], "allow", "g_a", false],
      ["fs:**/*.env", ["read"], "deny", "g_d", false],
    ],
  );
  // The child's decisions are never more permissive than the parent's.
  for (const path of ["src/a.ts", "src/prod.env", "lib/x", "README.md"]) {
    const child = decide(out, `fs:${path}`, "read", NOW).decision;
    const parent = decide(parents, `fs:${path}`, "read", NOW).decision;
    assert.ok(child === "deny" || child === parent, `${path}: child ${child}, parent ${parent}`);
  }
});

Deno.test("delegate() carries an ask inside the request so the child asks where the parent does", () => {
  const allow = grant("g_a", "fs:src/**", ["read"]);
  const ask = grant("g_k", "fs:src/secret/**", ["read"], { effect: "ask" });
  const out = delegate([allow, ask], { resource: "fs:src/**", rights: ["read"] }, {
    ...CHILD,
    nextId: ids("c"),
  });
  assert.deepEqual(out.map((g) => [g.resource, g.effect, g.parentId]), [
    ["fs:src/**", "allow", "g_a"],
    ["fs:src/secret/**", "ask", "g_k"],
  ]);
  assert.equal(decide(out, "fs:src/secret/key", "read", NOW).decision, "ask");
  assert.equal(decide(out, "fs:src/a.ts", "read", NOW).decision, "allow");
});

Deno.test("delegate() refuses an allow more specific than an ask the parent must honour", () => {
  const allow = grant("g_a", "fs:src/**", ["read"]);
  const ask = grant("g_k", "fs:src/secret/**", ["read"], { effect: "ask" });
  throwsCode(
    () =>
      delegate([allow, ask], { resource: "fs:src/secret/key", rights: ["read"] }, {
        ...CHILD,
        nextId: ids(),
      }),
    "EPERM",
    /must ask a human for part of it \(it holds fs:src\/secret\/\*\* read \[ask\]\)/,
  );
  // An ask the covering grant outranks never decides for the parent inside it.
  const wideAsk = grant("g_w", "fs:**", ["read"], { effect: "ask" });
  const out = delegate([allow, wideAsk], { resource: "fs:src/a.ts", rights: ["read"] }, {
    ...CHILD,
    nextId: ids(),
  });
  assert.deepEqual(out.map((g) => g.resource), ["fs:src/a.ts"]);
});

Deno.test("delegate() caps uses and expiry at the parent's", () => {
  const limited = grant("g_l", "fs:**", ["read"], { uses: 3, expiresAt: NOW + 1000 });
  const opts = { ...CHILD, nextId: ids() };
  const [wider] = delegate([limited], {
    resource: "fs:a",
    rights: ["read"],
    uses: 10,
    expiresAt: new Date(NOW + 5000).toISOString(),
  }, opts);
  assert.deepEqual([wider?.uses, wider?.expiresAt], [3, NOW + 1000]);
  const [narrower] = delegate([limited], {
    resource: "fs:a",
    rights: ["read"],
    uses: 1,
    expiresAt: new Date(NOW + 500).toISOString(),
  }, opts);
  assert.deepEqual([narrower?.uses, narrower?.expiresAt], [1, NOW + 500]);
  const [unstated] = delegate([limited], { resource: "fs:a", rights: ["read"] }, opts);
  assert.deepEqual([unstated?.uses, unstated?.expiresAt], [3, NOW + 1000]);
});

Deno.test("delegate() splits rights across the grants that cover them", () => {
  const read = grant("g_r", "fs:src/**", ["read"]);
  const write = grant("g_w", "fs:src/out/**", ["write"], { delegable: true });
  const out = delegate([read, write], {
    resource: "fs:src/out/a.txt",
    rights: ["write", "read"],
    delegable: true,
  }, { ...CHILD, nextId: ids("c") });
  assert.deepEqual(out.map((g) => [g.rights, g.parentId, g.delegable]), [
    [["read"], "g_r", true],
    [["write"], "g_w", true],
  ]);
});

Deno.test("GrantTable.lineageOf() finds a grant and every grant derived from it, for cascading revoke", () => {
  const grants = [
    grant("a", "fs:**", ["read"]),
    grant("b", "fs:src/**", ["read"], { parentId: "a" }),
    grant("c", "fs:src/x", ["read"], { parentId: "b" }),
    grant("d", "fs:lib/**", ["read"], { parentId: "a" }),
    grant("e", "fs:**", ["read"]),
    grant("f", "fs:**", ["read"], { parentId: "e" }),
  ];
  const table = new GrantTable();
  table.load(grants);
  assert.deepEqual(table.lineageOf("a").map((g) => g.id), ["a", "b", "d", "c"]);
  assert.deepEqual(table.lineageOf("c").map((g) => g.id), ["c"]);
  assert.deepEqual(table.lineageOf("e").map((g) => g.id), ["e", "f"]);
});

Deno.test("delegated grants revoke with their parent through GrantTable.lineageOf()", () => {
  const root = grant("g_root", "fs:**", ["read"]);
  const child = delegate([root], { resource: "fs:src/**", rights: ["read"], delegable: true }, {
    ...CHILD,
    nextId: ids("c"),
  });
  const grandchild = delegate(child, { resource: "fs:src/a", rights: ["read"] }, {
    subject: "p_3",
    issuedBy: "pid:p_2",
    now: NOW,
    nextId: ids("gc"),
  });
  const table = new GrantTable();
  table.load([root, ...child, ...grandchild]);
  assert.deepEqual(table.lineageOf("g_root").map((g) => g.id), ["g_root", "c1", "gc1"]);
  // The grandchild's grant is not delegable (the default), so it stops there.
  throwsCode(
    () =>
      delegate(grandchild, { resource: "fs:src/a", rights: ["read"] }, { ...CHILD, nextId: ids() }),
    "EPERM",
  );
});

Deno.test("delegate() never yields a child more permissive than its parent (seeded search)", () => {
  const patterns = [
    "**",
    "src/**",
    "src/*",
    "src/*.ts",
    "src/a.ts",
    "src/secret/**",
    "src/secret/key",
    "**/*.env",
    "lib/**",
    "src",
    "src/**/a.ts",
    "?rc/**",
  ];
  const targets = [
    ".",
    "src",
    "src/a.ts",
    "src/b.js",
    "src/secret/key",
    "src/secret/x.env",
    "src/x/a.ts",
    "lib/a.ts",
    "prod.env",
    "src/prod.env",
    "arc/a.ts",
    "README.md",
  ];
  const effects = ["allow", "ask", "deny"] as const;
  const rank = { deny: 0, ask: 1, allow: 2 };
  let seed = 42;
  const pick = <T>(items: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return items[seed % items.length] as T;
  };
  let delegated = 0;
  for (let round = 0; round < 3000; round++) {
    const parents = Array.from(
      { length: 1 + (round % 5) },
      (_, i) =>
        grant(`p${i}`, `fs:${pick(patterns)}`, [pick(["read", "write"])], {
          effect: pick(effects),
          delegable: pick([true, true, false]),
        }),
    );
    const request = {
      resource: `fs:${pick(patterns)}`,
      rights: [pick(["read", "write"])],
      effect: pick(effects),
    };
    let child: Grant[];
    try {
      child = delegate(parents, request, { ...CHILD, nextId: ids("c") });
    } catch (error) {
      assert.ok(hasCode(error, "EPERM"), String(error));
      continue;
    }
    delegated++;
    for (const target of targets) {
      for (const right of ["read", "write"]) {
        const c = decide(child, `fs:${target}`, right, NOW).decision;
        const p = decide(parents, `fs:${target}`, right, NOW).decision;
        assert.ok(
          rank[c] <= rank[p],
          `${JSON.stringify(parents.map((g) => [g.resource, g.rights, g.effect]))} → ` +
            `${JSON.stringify(request)}: ${target} ${right} child ${c} > parent ${p}`,
        );
      }
    }
  }
  assert.ok(delegated > 300, `only ${delegated} delegations succeeded`);
});
