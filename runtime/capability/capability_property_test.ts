/**
 * Property-based tests of the capability invariants of DESIGN §3, over random
 * grant sets of every resource kind: attenuation never amplifies, a deny only
 * narrows, a revoke leaves nothing derived alive, and a decision does not
 * depend on the order of the grants.
 *
 * `LIBOS_PROPERTY_RUNS` sets the runs per property (default 200);
 * `LIBOS_PROPERTY_SEED` and `LIBOS_PROPERTY_PATH` replay a failure (its
 * message prints the command). `deno task soak:property` runs 5000 each.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decide,
  delegate,
  isLive,
  issueGrant,
  matchPattern,
  parseResource,
  shellResource,
  specificity,
} from "./capability.ts";
import { hasCode } from "../errors.ts";
import { GrantTable } from "./grant_table.ts";
import {
  type Effect,
  type GrantSpec,
  type ResourceKind,
  RIGHTS_BY_KIND,
} from "../images/schemas.ts";
import type { Decision, Grant } from "../types.ts";

const NOW = Date.UTC(2030, 0, 1);
/** Grants expire at NOW + 1, 2 or 3 s; decisions are compared before, between and after. */
const TIMES = [NOW, NOW + 1_500, NOW + 2_500, NOW + 3_500];
const KINDS = Object.keys(RIGHTS_BY_KIND) as ResourceKind[];
const RANK: Record<Decision, number> = { deny: 0, ask: 1, allow: 2 };

// ------------------------------------------------------------------ running

function _env(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}

function _parameters(): fc.Parameters<unknown> {
  const runs = Number(_env("LIBOS_PROPERTY_RUNS") ?? "200");
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new RangeError(`LIBOS_PROPERTY_RUNS '${runs}' is not a positive integer`);
  }
  const out: fc.Parameters<unknown> = { numRuns: runs };
  const seed = _env("LIBOS_PROPERTY_SEED");
  if (seed !== undefined) out.seed = Number(seed);
  const path = _env("LIBOS_PROPERTY_PATH");
  if (path !== undefined) out.path = path;
  return out;
}

/**
 * Runs a property like `fc.assert`, but a failure's message ends with the
 * command that replays exactly that counterexample.
 */
function _assertProperty<T>(name: string, property: fc.IProperty<T>): void {
  const details = fc.check(property, _parameters() as fc.Parameters<T>);
  if (!details.failed) return;
  const report = fc.defaultReportMessage(details) ?? "property failed";
  const error = details.errorInstance;
  const reason = error instanceof Error ? error.message : String(error);
  const replay = `LIBOS_PROPERTY_SEED=${details.seed} ` +
    `LIBOS_PROPERTY_PATH=${details.counterexamplePath ?? ""} ` +
    `deno test -A runtime/capability_property_test.ts --filter ${JSON.stringify(name)}`;
  throw new Error(`${report}\n\n${reason}\n\nReplay: ${replay}`, { cause: error });
}

/** Declares a Deno test that asserts one property. */
function _propertyTest<T>(
  name: string,
  property: () => fc.IProperty<T>,
  options: { ignore?: boolean } = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore ?? false,
    fn: () => _assertProperty(name, property()),
  });
}

// ------------------------------------------------------------- arbitraries

/** A `/`-separated pattern of 1..`max` segments, literal or wildcard. */
function _slashPattern(
  literals: readonly string[],
  wilds: readonly string[],
  max: number,
): fc.Arbitrary<string> {
  const segment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...literals) },
    { weight: 2, arbitrary: fc.constantFrom(...wilds) },
  );
  return fc.array(segment, { minLength: 1, maxLength: max }).map((s) => s.join("/"));
}

const _FS_LITERALS = ["src", "lib", "a", "b.txt", "x.ts"];
const _NET_HOSTS = ["example.com", "api.example.com", "*.example.com", "*", "**", "EXAMPLE.com"];

/** The pattern (after `kind:`) of a grant of each kind; "" is the bare form. */
const PATTERN: Record<ResourceKind, fc.Arbitrary<string>> = {
  fs: fc.oneof(
    _slashPattern(_FS_LITERALS, ["*", "**", "?", "*.ts", "a*", "s?c"], 3),
    fc.constantFrom(".", "src/**", "*", "a/b.txt", "**", "src/**/x.ts"),
  ),
  net: fc.tuple(
    fc.constantFrom(..._NET_HOSTS, "localhost"),
    fc.option(fc.constantFrom("443", "80", "*", "8?", "**"), { nil: undefined }),
  ).map(([host, port]) => (port === undefined ? host : `${host}:${port}`)),
  obj: fc.tuple(
    fc.constantFrom("proc", "shared", "*", "**"),
    _slashPattern(["p_1", "p_2", "notes"], ["*", "**", "n?tes"], 2),
  ).map(([ns, rest]) => (ns === "**" ? ns : `${ns}/${rest}`)),
  ns: _slashPattern(["proc", "shared", "p_1"], ["*", "**"], 2),
  proc: fc.constantFrom("", "*", "**"),
  human: _slashPattern(["ops", "dev"], ["*", "**", "o?s"], 1),
  shell: fc.tuple(
    fc.constantFrom("git", "ls", "*", "g?t", "**"),
    fc.array(fc.constantFrom("status", "log", "-a", "*", "**", '"a b"'), { maxLength: 2 }),
  ).map(([program, argv]) => [program, ...argv].join(" ")),
  model: fc.oneof(
    fc.constant("**"),
    fc.tuple(
      fc.constantFrom("openai", "anthropic", "*", "**"),
      fc.constantFrom("gpt", "claude", "*", "g?t"),
    ).map(([provider, name]) => `${provider}/${name}`),
  ),
  tool: fc.constantFrom("", "*", "**"),
  image: fc.constantFrom("", "*", "**"),
  checkpoint: fc.constantFrom("", "*", "**"),
  mcp: fc.oneof(
    fc.constant("**"),
    fc.tuple(
      fc.constantFrom("everything", "files", "*"),
      fc.constantFrom("echo", "get-*", "*", "resource:**", "resource:file:/*"),
    ).map(([server, tool]) => `${server}/${tool}`),
  ),
  mbox: fc.oneof(
    fc.constantFrom("**", "jobs", "team/*"),
    _slashPattern(["proc", "p_1", "jobs"], ["*", "**", "p_?"], 2),
  ),
};

function _resource(kind: ResourceKind, pattern: string): string {
  return pattern === "" ? kind : `${kind}:${pattern}`;
}

/** Concrete resources (what a syscall asks about) of each kind. */
const PROBE: Record<ResourceKind, fc.Arbitrary<string>> = {
  fs: fc.oneof(
    fc.constant("fs:."),
    fc.array(fc.constantFrom("src", "lib", "a", "b.txt", "x.ts", "sc"), {
      minLength: 1,
      maxLength: 3,
    }).map((s) => `fs:${s.join("/")}`),
  ),
  net: fc.tuple(
    fc.constantFrom("example.com", "api.example.com", "x.api.example.com", "localhost", "evil.com"),
    fc.option(fc.constantFrom("443", "80", "8080"), { nil: undefined }),
  ).map(([host, port]) => `net:${host}${port === undefined ? "" : `:${port}`}`),
  obj: fc.tuple(
    fc.constantFrom("proc", "shared"),
    fc.constantFrom("p_1", "p_2"),
    fc.option(fc.constantFrom("notes", "x"), { nil: undefined }),
  ).map((s) => `obj:${s.filter((x) => x !== undefined).join("/")}`),
  ns: fc.array(fc.constantFrom("proc", "shared", "p_1"), { minLength: 1, maxLength: 2 })
    .map((s) => `ns:${s.join("/")}`),
  proc: fc.constant("proc"),
  human: fc.constantFrom("human:ops", "human:dev", "human:x"),
  shell: fc.tuple(
    fc.constantFrom("git", "ls", "rm"),
    fc.array(fc.constantFrom("status", "log", "-a", "a b"), { maxLength: 2 }),
  ).map(([program, argv]) => shellResource(program, argv)),
  model: fc.tuple(
    fc.constantFrom("openai", "anthropic", "local"),
    fc.constantFrom("gpt", "claude", "x"),
  ).map(([provider, name]) => `model:${provider}/${name}`),
  tool: fc.constant("tool"),
  image: fc.constant("image"),
  checkpoint: fc.constant("checkpoint"),
  mcp: fc.tuple(
    fc.constantFrom("everything", "files", "other"),
    fc.constantFrom("echo", "get-sum", "resource:file:/a", "resource:file:/a/b"),
  ).map(([server, tool]) => `mcp:${server}/${tool}`),
  mbox: fc.constantFrom("mbox:proc/p_1", "mbox:proc/p_2", "mbox:jobs", "mbox:team/results"),
};

/** Fixed probes, so that every property sees the usual shapes of each kind. */
const FIXED_PROBES: Record<ResourceKind, readonly string[]> = {
  fs: [".", "src", "src/a", "src/x.ts", "src/a/x.ts", "a/b.txt", "lib", "sc"].map((p) => `fs:${p}`),
  net: ["example.com", "example.com:443", "api.example.com:80", "localhost:8080"]
    .map((p) => `net:${p}`),
  obj: ["obj:proc/p_1/notes", "obj:proc/p_2/notes", "obj:shared/notes"],
  ns: ["ns:proc", "ns:proc/p_1", "ns:shared"],
  proc: ["proc"],
  human: ["human:ops", "human:dev"],
  shell: [shellResource("git", []), shellResource("git", ["status"]), shellResource("ls", ["-a"])],
  model: ["model:openai/gpt", "model:anthropic/claude"],
  tool: ["tool"],
  image: ["image"],
  checkpoint: ["checkpoint"],
  mcp: ["mcp:everything/echo", "mcp:everything/get-sum", "mcp:files/resource:file:/a"],
  mbox: ["mbox:proc/p_1", "mbox:jobs", "mbox:team/results"],
};

const EXPIRY = fc.constantFrom(1_000, 2_000, 3_000).map((ms) => new Date(NOW + ms).toISOString());

/** A requested grant of `kind`; `effect`, when given, is always set. */
function _spec(
  kind: ResourceKind,
  options: { effect?: Effect; pattern?: fc.Arbitrary<string>; rights?: readonly string[] } = {},
): fc.Arbitrary<GrantSpec> {
  const rights = options.rights ?? RIGHTS_BY_KIND[kind];
  return fc.record({
    resource: (options.pattern ?? PATTERN[kind]).map((p) => _resource(kind, p)),
    rights: fc.subarray([...rights], { minLength: 1 }),
    effect: fc.oneof(
      { weight: 3, arbitrary: fc.constant<Effect>("allow") },
      { weight: 1, arbitrary: fc.constant<Effect>("ask") },
      { weight: 1, arbitrary: fc.constant<Effect>("deny") },
    ),
    uses: fc.integer({ min: 1, max: 3 }),
    expiresAt: EXPIRY,
    delegable: fc.oneof(
      { weight: 3, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
  }, { requiredKeys: ["resource", "rights"] })
    .map((spec) => (options.effect === undefined ? spec : { ...spec, effect: options.effect }));
}

/** A few kinds that grant sets are drawn from, so that their grants interact. */
const KIND_SET = fc.subarray(KINDS, { minLength: 1, maxLength: 3 });

/** Whether a held grant is live, or revoked or spent (it must then decide nothing). */
type _State = "live" | "revoked" | "spent";

/** A grant set of `subject` issued from random specs; a few grants are revoked or spent. */
function _held(
  kinds: readonly ResourceKind[],
  max: number,
  subject: string,
): fc.Arbitrary<Grant[]> {
  const state = fc.oneof(
    { weight: 8, arbitrary: fc.constant<_State>("live") },
    { weight: 1, arbitrary: fc.constantFrom<_State>("revoked", "spent") },
  );
  const one = fc.tuple(fc.oneof(...kinds.map((k) => _spec(k))), state);
  return fc.array(one, { minLength: 1, maxLength: max }).map((pairs) => {
    const nextId = _ids("g_");
    return pairs.map(([spec, state]) => {
      const grant = issueGrant(spec, { subject, issuedBy: "operator:root", now: NOW, nextId });
      if (state === "revoked") grant.revoked = true;
      if (state === "spent") grant.uses = 0;
      return grant;
    });
  });
}

function _probes(kinds: readonly ResourceKind[]): fc.Arbitrary<string[]> {
  const others = KINDS.filter((k) => !kinds.includes(k));
  return fc.array(fc.oneof(...kinds.map((k) => PROBE[k])), { maxLength: 8 }).map((random) => [
    ...kinds.flatMap((k) => FIXED_PROBES[k]),
    ...random,
    // One probe of a kind nobody holds: it must stay a deny everywhere.
    ...others.slice(0, 1).map((k) => FIXED_PROBES[k][0] as string),
  ]);
}

/** Narrower variants of a held resource: the same, or `…/**` with a sub-pattern. */
function _narrowed(resource: string): fc.Arbitrary<string> {
  const { kind, pattern } = parseResource(resource);
  if (kind === "shell" && !pattern.includes(" ")) {
    return fc.constantFrom(resource, `${resource} status`, `${resource} *`);
  }
  if (pattern !== "**" && !pattern.endsWith("/**")) return fc.constant(resource);
  if (kind === "net" || kind === "shell") return fc.constant(resource);
  const stem = pattern.slice(0, -2);
  const sub = kind === "fs"
    ? _slashPattern(_FS_LITERALS, ["*", "**", "*.ts"], 2)
    : PATTERN[kind].filter((p) => p !== "" && !p.startsWith("."));
  return fc.oneof(fc.constant(resource), sub.map((s) => `${kind}:${stem}${s}`));
}

/** A request that is random, or derived from a held grant (so that it often succeeds). */
function _request(kinds: readonly ResourceKind[], held: readonly Grant[]): fc.Arbitrary<GrantSpec> {
  const random = fc.oneof(...kinds.map((k) => _spec(k)));
  if (held.length === 0) return random;
  const derived = fc.constantFrom(...held).chain((g) => {
    const { kind } = parseResource(g.resource);
    return _spec(kind, { pattern: _narrowed(g.resource).map((r) => r.slice(kind.length + 1)) })
      .chain((spec) =>
        fc.subarray(g.rights, { minLength: 1 }).map((rights) => ({ ...spec, rights }))
      );
  });
  return fc.oneof({ weight: 1, arbitrary: random }, { weight: 3, arbitrary: derived });
}

// ----------------------------------------------------------------- helpers

function _ids(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** `delegate`, or null when the parent may not delegate the request (EPERM). */
function _tryDelegate(
  held: readonly Grant[],
  request: GrantSpec,
  options: {
    subject: string;
    issuedBy: string;
    nextId: () => string;
    draw?: (parent: Grant, uses: number) => void;
  },
): Grant[] | null {
  try {
    return delegate(held, request, { ...options, now: NOW });
  } catch (error) {
    if (hasCode(error, "EPERM")) return null;
    throw error;
  }
}

function _rightsOf(probe: string): readonly string[] {
  return RIGHTS_BY_KIND[parseResource(probe).kind];
}

/** Every (time, probe, right) combination. */
function* _questions(probes: readonly string[]): Generator<[number, string, string]> {
  for (const now of TIMES) {
    for (const probe of probes) for (const right of _rightsOf(probe)) yield [now, probe, right];
  }
}

/** Asserts that no decision of `child` is more permissive than the same decision of `parent`. */
function _assertAttenuated(
  parent: readonly Grant[],
  child: readonly Grant[],
  probes: readonly string[],
): void {
  for (const [now, probe, right] of _questions(probes)) {
    const theirs = decide(parent, probe, right, now).decision;
    const mine = decide(child, probe, right, now);
    if (RANK[mine.decision] > RANK[theirs]) {
      assert.fail(
        `the child may ${mine.decision} ${right} on '${probe}' at +${now - NOW} ms ` +
          `(by ${mine.grant?.id} ${mine.grant?.resource} ${mine.grant?.effect}) ` +
          `where the parent may only ${theirs}`,
      );
    }
  }
}

// --------------------------------------------------------- 1. attenuation

/** A parent's grant set, a request and probes; the request often derives from a held grant. */
const DELEGATION = KIND_SET.chain((kinds) =>
  _held(kinds, 8, "p_1").chain((parent) =>
    fc.record({
      parent: fc.constant(parent),
      request: _request(kinds, parent),
      probes: _probes(kinds),
    })
  )
);

_propertyTest(
  "delegate() never gives a child a decision more permissive than its parent's",
  () =>
    fc.property(DELEGATION, ({ parent, request, probes }) => {
      const before = structuredClone(parent);
      const child = _tryDelegate(parent, request, {
        subject: "p_2",
        issuedBy: "pid:p_1",
        nextId: _ids("c_"),
      });
      assert.deepEqual(parent, before, "delegate() changed the parent's grants");
      if (child === null) return;
      _assertAttenuated(parent, child, probes);
    }),
);

_propertyTest(
  "a child's grant never holds more uses, time or rights than the grant it derives from",
  () =>
    fc.property(DELEGATION, ({ parent, request }) => {
      const child = _tryDelegate(parent, request, {
        subject: "p_2",
        issuedBy: "pid:p_1",
        nextId: _ids("c_"),
      });
      if (child === null) return;
      const byId = new Map(parent.map((g) => [g.id, g]));
      for (const c of child) {
        assert.equal(c.subject, "p_2");
        if (c.parentId === null) {
          assert.equal(c.effect, "deny", `a grant without a parent must be a deny: ${c.resource}`);
          continue;
        }
        const p = byId.get(c.parentId);
        assert.ok(p !== undefined, `grant ${c.id} names an unknown parent ${c.parentId}`);
        assert.ok(isLive(p, NOW), `grant ${c.id} derives from a grant that is not live`);
        for (const right of c.rights) assert.ok(p.rights.includes(right), `right ${right} grew`);
        if (p.uses !== null) {
          assert.ok(
            c.uses !== null && c.uses <= p.uses,
            `uses ${c.uses} exceed the parent's ${p.uses}`,
          );
        }
        if (p.expiresAt !== null) {
          assert.ok(
            c.expiresAt !== null && c.expiresAt <= p.expiresAt,
            `expiry ${c.expiresAt} outlives the parent's ${p.expiresAt}`,
          );
        }
        if (c.delegable) {
          assert.equal(request.delegable, true, "the child's grant became delegable");
        }
      }
    }),
);

/** One parent's grant set delegated to several children. */
const SIBLINGS = KIND_SET.chain((kinds) =>
  _held(kinds, 6, "p_1").chain((parent) =>
    fc.record({
      parent: fc.constant(parent),
      requests: fc.array(_request(kinds, parent), { minLength: 2, maxLength: 3 }),
    })
  )
);

// One pool for a tree (issue 19 item 2): a child's uses are drawn from its
// parent's (the kernel passes `draw`, which takes them from the parent's
// grant), so the parent's remaining uses and all its children's together never
// exceed what the parent held.
_propertyTest(
  "the uses handed to all children of a grant, with what the grant keeps, never exceed its own uses",
  () =>
    fc.property(SIBLINGS, ({ parent, requests }) => {
      const nextId = _ids("c_");
      const pool = structuredClone(parent);
      const given = new Map<string, number>();
      requests.forEach((request, i) => {
        const child = _tryDelegate(pool, request, {
          subject: `p_${i + 2}`,
          issuedBy: "pid:p_1",
          nextId,
          draw: (g, uses) => {
            g.uses = (g.uses ?? 0) - uses;
          },
        }) ?? [];
        for (const c of child) {
          if (c.parentId === null || c.effect !== "allow") continue;
          given.set(c.parentId, (given.get(c.parentId) ?? 0) + (c.uses ?? Infinity));
        }
      });
      for (const p of parent) {
        if (p.uses === null) continue;
        const kept = pool.find((g) => g.id === p.id)?.uses ?? 0;
        const total = (given.get(p.id) ?? 0) + kept;
        assert.ok(
          total <= p.uses,
          `grant ${p.id} (uses ${p.uses}) handed out ${total - kept} uses and kept ${kept}`,
        );
        assert.ok(kept >= 0, `grant ${p.id} overdrawn: ${kept}`);
      }
    }),
);

// -------------------------------------------------------- 2. deny monotone

_propertyTest("adding a deny grant never makes a decision more permissive", () =>
  fc.property(
    KIND_SET.chain((kinds) =>
      fc.record({
        before: _held(kinds, 8, "p_1"),
        deny: fc.oneof(...kinds.map((k) => _spec(k, { effect: "deny" }))),
        at: fc.nat(),
        probes: _probes(kinds),
      })
    ),
    ({ before, deny, at, probes }) => {
      const extra = issueGrant(deny, {
        subject: "p_1",
        issuedBy: "operator:root",
        now: NOW,
        nextId: () => "d_1",
      });
      const after = [...before];
      after.splice(at % (before.length + 1), 0, extra);
      for (const [now, probe, right] of _questions(probes)) {
        const was = decide(before, probe, right, now).decision;
        const is = decide(after, probe, right, now).decision;
        assert.ok(
          RANK[is] <= RANK[was],
          `adding ${deny.resource} deny turned ${was} into ${is} for ${right} on '${probe}'`,
        );
      }
    },
  ));

// ----------------------------------------------------------------- 3. revoke

/** One spawn: which holder spawns, and which grants the child asks for. */
interface _Spawn {
  by: number;
  requests: GrantSpec[];
}

/** A root grant set, a few generations of spawns, the grants to revoke, probes. */
const FAMILY = KIND_SET.chain((kinds) =>
  _held(kinds, 6, "p_0").chain((root) => {
    // Requests derive from the root's grants: descendants hold narrower ones, so
    // these stay likely to be delegable a few generations down.
    const spawn: fc.Arbitrary<_Spawn> = fc.record({
      by: fc.nat(),
      requests: fc.array(_request(kinds, root), { minLength: 1, maxLength: 3 }),
    });
    return fc.record({
      root: fc.constant(root),
      spawns: fc.array(spawn, { minLength: 1, maxLength: 6 }),
      revokes: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
      probes: _probes(kinds),
    });
  })
);

/** The ids of `id` and every grant whose parentId chain reaches it, in `grants`. */
function _subtree(id: string, grants: readonly Grant[]): Set<string> {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const g of grants) {
      if (g.parentId !== null && out.has(g.parentId) && !out.has(g.id)) {
        out.add(g.id);
        grew = true;
      }
    }
  }
  return out;
}

_propertyTest(
  "revoking a grant leaves nothing derived from it alive",
  () =>
    fc.property(FAMILY, ({ root, spawns, revokes, probes }) => {
      const table = new GrantTable();
      // Revoking mutates grants, and fast-check runs the same values again while it shrinks.
      table.load(structuredClone(root));
      const pids = ["p_0"];
      const parentOf = new Map<string, string>();
      const nextId = _ids("c_");
      for (const { by, requests } of spawns) {
        const parent = pids[by % pids.length] as string;
        const pid = `p_${pids.length}`;
        const issue = { subject: pid, issuedBy: `pid:${parent}`, nextId };
        // As the kernel does for an image's grants: the ones the parent cannot delegate are dropped.
        const grants = requests.flatMap((r) => _tryDelegate(table.of(parent), r, issue) ?? []);
        pids.push(pid);
        parentOf.set(pid, parent);
        for (const g of grants) table.put(g);
      }
      const all = pids.flatMap((pid) => table.of(pid));
      for (const [pid, parent] of parentOf) {
        _assertAttenuated(table.of(parent), table.of(pid), probes);
      }
      let model = structuredClone(all);
      // Revoking a child's carried copy of its parent's ask or deny (an operator may
      // name any grant) lifts a restriction the parent keeps: attenuation is then
      // no longer expected to hold, only the revoke rule itself.
      let attenuated = true;
      for (const pick of revokes) {
        const target = all[pick % all.length] as Grant;
        if (target.effect !== "allow" && target.parentId !== null) {
          attenuated = false;
        }
        const lineage = table.lineageOf(target.id);
        assert.deepEqual(
          lineage.slice(1).map((g) => g.id).sort(),
          [..._subtree(target.id, all)].filter((id) => id !== target.id).sort(),
          "lineageOf() and the parentId walk disagree",
        );
        // Kernel.revoke: every grant of the lineage is marked revoked.
        for (const g of lineage) g.revoked = true;
        // The model drops the subtree found by walking parentId, from unrevoked copies.
        const gone = _subtree(target.id, model);
        model = model.filter((g) => !gone.has(g.id));

        for (const g of all) {
          if (!isLive(g, NOW)) continue;
          for (let up = g.parentId; up !== null;) {
            const ancestor = table.get(up);
            assert.ok(ancestor !== undefined, `grant ${g.id} names an unknown parent ${up}`);
            assert.ok(!ancestor.revoked, `live grant ${g.id} derives from revoked ${ancestor.id}`);
            up = ancestor.parentId;
          }
        }
        for (const pid of pids) {
          const held = table.of(pid);
          const expected = model.filter((g) => g.subject === pid);
          for (const [now, probe, right] of _questions(probes)) {
            assert.equal(
              decide(held, probe, right, now).decision,
              decide(expected, probe, right, now).decision,
              `${pid} decides ${right} on '${probe}' unlike the model after revoking ${target.id}`,
            );
          }
          const parent = parentOf.get(pid);
          if (parent !== undefined && attenuated) {
            _assertAttenuated(table.of(parent), held, probes);
          }
        }
      }
    }),
);

// ------------------------------------------------------------ 4. decisions

_propertyTest(
  "decide() does not depend on the order of the grants and picks the most specific",
  () =>
    fc.property(
      KIND_SET.chain((kinds) =>
        _held(kinds, 10, "p_1").chain((grants) =>
          fc.record({
            grants: fc.constant(grants),
            shuffled: fc.shuffledSubarray(grants, {
              minLength: grants.length,
              maxLength: grants.length,
            }),
            probes: _probes(kinds),
          })
        )
      ),
      ({ grants, shuffled, probes }) => {
        for (const [now, probe, right] of _questions(probes)) {
          const a = decide(grants, probe, right, now);
          const b = decide(shuffled, probe, right, now);
          assert.equal(a.decision, b.decision, `${right} on '${probe}' depends on the order`);
          assert.equal(a.grant === null, b.grant === null);

          // The rule of DESIGN §3, computed naively.
          const { kind, pattern: target } = parseResource(probe);
          const matching = grants.filter((g) => {
            const held = parseResource(g.resource);
            return isLive(g, now) && g.rights.includes(right) && held.kind === kind &&
              matchPattern(held.pattern, target, kind);
          });
          const top = Math.max(
            -1,
            ...matching.map((g) => specificity(parseResource(g.resource).pattern)),
          );
          const best = matching.filter((g) =>
            specificity(parseResource(g.resource).pattern) === top
          );
          const expected: Decision =
            matching.length === 0 || matching.some((g) => g.effect === "deny")
              ? "deny"
              : best.some((g) => g.effect === "ask")
              ? "ask"
              : "allow";
          assert.equal(a.decision, expected, `${right} on '${probe}' at +${now - NOW} ms`);
        }
      },
    ),
);
