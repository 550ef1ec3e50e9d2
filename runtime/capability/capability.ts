/**
 * The capability logic of DESIGN §3 as pure functions over grants: parsing
 * resources, glob matching, the decision rule, validation of a requested
 * grant, attenuation for fork and spawn, and grant lineage for cascading
 * revoke. Nothing here touches the store or the clock; the kernel passes
 * `now` in.
 *
 * Pattern syntax (every kind): `**` matches any run of characters (also
 * empty); `*` matches a run within one segment; `?` matches one character of a
 * segment; everything else is literal (there is no escaping). Per kind:
 *
 * - `fs`, `obj`, `ns`, `human`, `model`: segments are separated by `/`. A
 *   trailing `/**` also matches the directory itself (`fs:src/**` matches
 *   `fs:src`), and a `**` that is a whole segment before more segments
 *   matches zero or more whole segments (so a pattern `src/`, `**`, `/a.ts`
 *   matches both `src/a.ts` and `src/x/y/a.ts`).
 * - `net:<host>[:port]`: hosts compare case-insensitively; `*` and `?` stay
 *   within the host or the port (they never match `:` or `/`); a pattern
 *   without a port matches every port of its host.
 * - `shell:<program>[ <argv>]`: `*` and `?` stay within one argument (they
 *   never match a space); a pattern without a space names a program and
 *   matches it with any argv. Build concrete targets with
 *   {@linkcode shellResource} so that an argument containing a space cannot
 *   pose as two.
 * - `proc`, `tool`, `image`, `checkpoint`: no pattern; the resource is the bare
 *   kind (`proc:*` and `proc:**` are accepted and normalised to `proc`).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import {
  type Effect,
  type GrantSpec,
  type ResourceKind,
  RIGHTS_BY_KIND,
} from "../images/schemas.ts";
import type { Decision, Grant } from "../types.ts";
import { hasControlCharacters } from "../substrate/workspace_path.ts";

/** Resource kinds that take no pattern. */
const _BARE_KINDS: ReadonlySet<ResourceKind> = new Set(["proc", "tool", "image", "checkpoint"]);

/** A resource split into its kind and its pattern (or concrete target). */
export interface ParsedResource {
  kind: ResourceKind;
  /** The part after the first colon; "" for the bare kinds. */
  pattern: string;
}

/**
 * Splits `fs:src/**` into `{kind: "fs", pattern: "src/**"}`. Bare kinds (`proc`,
 * `tool`, `image`, `checkpoint`) have the pattern "". Throws EINVAL for an unknown
 * kind, a missing pattern where the kind needs one, or control characters.
 */
export function parseResource(resource: string): ParsedResource {
  if (typeof resource !== "string") {
    throw libosError("EINVAL", `Cannot parse resource '${String(resource)}': it is not a string`);
  }
  if (hasControlCharacters(resource)) {
    throw libosError(
      "EINVAL",
      `Cannot parse resource '${JSON.stringify(resource).slice(1, -1)}': ` +
        "it contains control characters; expected printable text such as 'fs:src/**'",
      { resource },
    );
  }
  const colon = resource.indexOf(":");
  const kind = colon === -1 ? resource : resource.slice(0, colon);
  if (!Object.hasOwn(RIGHTS_BY_KIND, kind)) {
    throw libosError(
      "EINVAL",
      `Cannot parse resource '${resource}': unknown kind '${kind}'; expected one of ${
        Object.keys(RIGHTS_BY_KIND).join(", ")
      }`,
      { resource },
    );
  }
  const known = kind as ResourceKind;
  const pattern = colon === -1 ? "" : resource.slice(colon + 1);
  if (pattern === "" && !_BARE_KINDS.has(known)) {
    throw libosError(
      "EINVAL",
      `Cannot parse resource '${resource}': a ${kind} resource needs a pattern after '${kind}:', ` +
        `e.g. '${kind}:*'`,
      { resource },
    );
  }
  return { kind: known, pattern };
}

/** A compiled pattern: a matcher plus what coverage and ordering need. */
interface _Compiled {
  kind: ResourceKind;
  /** The canonical pattern (NFC; lower-case for net). */
  pattern: string;
  /** The pattern up to its first wildcard. */
  prefix: string;
  /** Whether the pattern has no wildcard at all. */
  exact: boolean;
  specificity: number;
  match(target: string): boolean;
}

const _CACHE_CAP = 4096;
const _cache = new Map<string, _Compiled>();

/** Compiles (or fetches from the bounded cache) a pattern of one kind. */
function _compile(kind: ResourceKind, pattern: string): _Compiled {
  const key = `${kind}:${pattern}`;
  const hit = _cache.get(key);
  if (hit !== undefined) return hit;
  const compiled = _build(kind, pattern);
  _remember(_cache, key, compiled);
  return compiled;
}

/**
 * Adds to a bounded cache, evicting the oldest entry when full: patterns come
 * from grants, so the working set is small and a hit is the common case.
 */
function _remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= _CACHE_CAP) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, value);
}

function _canonical(kind: ResourceKind, pattern: string): string {
  const nfc = pattern.normalize("NFC");
  return kind === "net" ? nfc.toLowerCase() : nfc;
}

function _build(kind: ResourceKind, raw: string): _Compiled {
  const pattern = _canonical(kind, raw);
  const wild = pattern.search(/[*?]/);
  const exact = wild === -1;
  const prefix = exact ? pattern : pattern.slice(0, wild);
  const specificity = _specificity(pattern, prefix, exact);
  if (_BARE_KINDS.has(kind)) {
    // The concrete target of a bare kind is always "": `proc`, `proc:*`, `proc:**` match it.
    const matches = pattern === "" || pattern === "*" || pattern === "**";
    return { kind, pattern, prefix, exact, specificity, match: (t) => matches && t === "" };
  }
  if (kind === "net") {
    const hasPort = _splitHostPort(pattern).port !== null;
    const re = new RegExp(`^${_globSource(pattern, "[^/:]")}$`);
    // Targets arrive lower-cased (see _canonicalTarget).
    const match = hasPort
      ? (t: string) => re.test(t)
      : (t: string) => re.test(_splitHostPort(t).host);
    return { kind, pattern, prefix, exact, specificity, match };
  }
  if (kind === "shell") {
    const programOnly = !pattern.includes(" ");
    const re = new RegExp(`^${_globSource(pattern, "[^ ]")}$`);
    const match = programOnly
      ? (t: string) => {
        const space = t.indexOf(" ");
        return re.test(space === -1 ? t : t.slice(0, space));
      }
      : (t: string) => re.test(t);
    return { kind, pattern, prefix, exact, specificity, match };
  }
  const re = new RegExp(`^${_slashGlobSource(pattern)}$`);
  return { kind, pattern, prefix, exact, specificity, match: (t) => re.test(t) };
}

const _REGEX_SPECIAL = /[.+^${}()|[\]\\]/g;

/** A glob as regex source: `**` any run, `*` a run of `one`, `?` one `one`. */
function _globSource(pattern: string, one: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        while (pattern[i + 1] === "*") i++;
        out += ".*";
      } else {
        out += `${one}*`;
      }
    } else if (c === "?") {
      out += one;
    } else {
      out += c.replace(_REGEX_SPECIAL, "\\$&");
    }
  }
  return out;
}

/** A `/`-separated glob as regex source, with globstar segment semantics. */
function _slashGlobSource(pattern: string): string {
  if (pattern === "**") return ".*";
  // Repeated globstar segments mean the same as one.
  let body = pattern.replace(/(\/\*\*)+(?=\/|$)/g, "/**");
  let tail = "";
  if (body.endsWith("/**")) {
    body = body.slice(0, -3);
    tail = "(?:/.*)?";
  }
  let out = "";
  let rest = body;
  if (rest.startsWith("**/")) {
    out += "(?:.*/)?";
    rest = rest.slice(3);
  }
  // Split at every `/**/` so that it can match zero or more whole segments.
  const parts = rest.split("/**/");
  out += parts.map((part) => _globSource(part, "[^/]")).join("/(?:.*/)?");
  return out + tail;
}

/** Splits `host[:port]`; a bracketed IPv6 host keeps its colons. */
function _splitHostPort(target: string): { host: string; port: string | null } {
  if (target.startsWith("[")) {
    const close = target.indexOf("]");
    if (close !== -1 && target[close + 1] === ":") {
      return { host: target.slice(0, close + 1), port: target.slice(close + 2) };
    }
    return { host: target, port: null };
  }
  const colon = target.lastIndexOf(":");
  if (colon === -1) return { host: target, port: null };
  return { host: target.slice(0, colon), port: target.slice(colon + 1) };
}

/**
 * Whether `pattern` (a glob of `kind`) matches the concrete `target` (the
 * part of a resource after its kind, e.g. `src/a.ts` for `fs:src/a.ts`).
 * Patterns are compiled once and cached.
 */
export function matchPattern(pattern: string, target: string, kind: ResourceKind): boolean {
  return _compile(kind, pattern).match(_canonicalTarget(kind, target));
}

/** Host names compare case-insensitively; every other target is taken as given. */
function _canonicalTarget(kind: ResourceKind, target: string): string {
  return kind === "net" ? target.toLowerCase() : target;
}

/**
 * How specific a pattern is; the higher, the more specific. The rule, in
 * order of weight:
 *
 * 1. An exact pattern (no `*` or `?`) beats every glob; among exact patterns
 *    the longer wins (`net:example.com:443` beats `net:example.com`).
 * 2. Among globs, the longer literal prefix (the text before the first
 *    wildcard) wins: `src/lib/**` beats `src/**` beats `**`.
 * 3. Then the more literal characters in the whole pattern: `src/*.ts` beats
 *    `src/**`.
 * 4. Then a pattern without `**` beats one with it: `src/*` beats `src/**`.
 */
export function specificity(pattern: string): number {
  const wild = pattern.search(/[*?]/);
  const exact = wild === -1;
  return _specificity(pattern, exact ? pattern : pattern.slice(0, wild), exact);
}

function _specificity(pattern: string, prefix: string, exact: boolean): number {
  // Patterns are at most 1024 characters, so the terms below never overlap.
  if (exact) return 2e9 + pattern.length;
  const literals = pattern.replace(/[*?]/g, "").length;
  return prefix.length * 1e6 + literals * 10 + (pattern.includes("**") ? 0 : 1);
}

/** Whether a grant can still decide: not revoked, not expired, uses left. */
export function isLive(grant: Grant, now: number): boolean {
  return !grant.revoked &&
    (grant.expiresAt === null || grant.expiresAt > now) &&
    (grant.uses === null || grant.uses > 0);
}

/** The outcome of {@linkcode decide}. */
export interface DecisionResult {
  decision: Decision;
  /** The grant that decided; null when nothing matched. */
  grant: Grant | null;
}

// Keyed by the whole resource string: a grant's string keeps its hash, so a
// lookup costs no allocation (building `kind:pattern` keys would).
const _byResource = new Map<string, _Compiled | null>();

/** A compiled grant resource, or null when the stored resource is malformed. */
function _compiledResource(resource: string): _Compiled | null {
  const hit = _byResource.get(resource);
  if (hit !== undefined) return hit;
  const colon = resource.indexOf(":");
  const kind = colon === -1 ? resource : resource.slice(0, colon);
  const compiled = Object.hasOwn(RIGHTS_BY_KIND, kind)
    ? _build(kind as ResourceKind, colon === -1 ? "" : resource.slice(colon + 1))
    : null;
  _remember(_byResource, resource, compiled);
  return compiled;
}

/**
 * The decision of DESIGN §3 for one concrete `resource` (e.g. `fs:src/a.ts`,
 * `obj:proc/p_1/notes`, `net:example.com:443`, `proc`) and one `right`: among
 * the live grants whose pattern matches and whose rights include `right`, any
 * `deny` decides; otherwise the most specific match decides, and on a tie the
 * more restrictive (`ask` over `allow`); no match is a deny with grant null.
 * A grant whose stored resource is malformed fails closed (it denies).
 */
export function decide(
  grants: readonly Grant[],
  resource: string,
  right: string,
  now: number,
): DecisionResult {
  const { kind, pattern } = parseResource(resource);
  const target = _canonicalTarget(kind, pattern);
  let best: Grant | null = null;
  let bestSpecificity = -1;
  for (const grant of grants) {
    if (!isLive(grant, now) || !grant.rights.includes(right)) continue;
    const compiled = _compiledResource(grant.resource);
    if (compiled === null) return { decision: "deny", grant };
    if (compiled.kind !== kind || !compiled.match(target)) continue;
    if (grant.effect === "deny") return { decision: "deny", grant };
    if (
      compiled.specificity > bestSpecificity ||
      (compiled.specificity === bestSpecificity && grant.effect === "ask" && best?.effect !== "ask")
    ) {
      best = grant;
      bestSpecificity = compiled.specificity;
    }
  }
  if (best === null) return { decision: "deny", grant: null };
  return { decision: best.effect, grant: best };
}

/**
 * Builds the concrete `shell:` target of a program run: the program, then each
 * argument separated by a space; an argument that is empty or contains a
 * space, a quote or a backslash is written as a JSON string, so that no
 * argument can pose as two and a pattern's `*` (which never crosses a space)
 * covers exactly one argument.
 */
export function shellResource(program: string, argv: readonly string[]): string {
  const quote = (arg: string) => (arg === "" || /[\s"'\\]/.test(arg) ? JSON.stringify(arg) : arg);
  return ["shell:" + quote(program), ...argv.map(quote)].join(" ");
}

function _grantError(resource: string, reason: string, fields: Record<string, unknown> = {}) {
  return libosError("EINVAL", `Cannot grant '${resource}': ${reason}`, { resource, ...fields });
}

/** Kind-specific checks of a grant pattern, returning the normalised pattern. */
function _checkPattern(kind: ResourceKind, pattern: string, resource: string): string {
  if (_BARE_KINDS.has(kind)) {
    if (pattern === "" || pattern === "*" || pattern === "**") return "";
    throw _grantError(resource, `a ${kind} resource takes no pattern; expected '${kind}'`);
  }
  const canonical = _canonical(kind, pattern);
  if (kind === "fs") {
    if (canonical === ".") return canonical;
    if (canonical.startsWith("/") || /^[A-Za-z]:/.test(canonical) || canonical.includes("\\")) {
      throw _grantError(
        resource,
        "fs patterns are workspace-relative with '/' separators; expected e.g. 'fs:src/**'",
      );
    }
    for (const segment of canonical.split("/")) {
      if (segment === "" || segment === "." || segment === "..") {
        throw _grantError(
          resource,
          `the pattern has an empty, '.' or '..' segment; expected a normalised path such as ` +
            `'fs:src/**' (or 'fs:.' for the workspace root)`,
        );
      }
    }
  }
  if (kind === "net" && /[/\s]/.test(canonical)) {
    throw _grantError(
      resource,
      "a net pattern is host[:port]; expected e.g. 'net:example.com:443'",
    );
  }
  if (kind === "shell" && canonical.startsWith(" ")) {
    throw _grantError(resource, "a shell pattern starts with the program; expected 'shell:git'");
  }
  return canonical;
}

/**
 * Validates a requested grant and returns it normalised: the resource's kind
 * is known, its pattern fits the kind (NFC; lower-case for net; bare kinds
 * written bare), every right is a right of the kind, `uses` is a positive
 * integer, `expiresAt` is a time in the future. Rights come back
 * de-duplicated and sorted. Throws EINVAL naming what was wrong and what was
 * expected.
 */
export function validateGrantSpec(spec: GrantSpec, now: number): GrantSpec {
  if (spec === null || typeof spec !== "object") {
    throw libosError("EINVAL", "Cannot grant a capability: expected an object {resource, rights}");
  }
  const { kind, pattern } = parseResource(spec.resource);
  const resource = spec.resource;
  if (resource.length > 1024) {
    throw _grantError(resource.slice(0, 64) + "…", "the resource is longer than 1024 characters");
  }
  const normalised = _checkPattern(kind, pattern, resource);
  const allowed: readonly string[] = RIGHTS_BY_KIND[kind];
  if (!Array.isArray(spec.rights) || spec.rights.length === 0) {
    throw _grantError(resource, `no rights given; expected some of ${allowed.join(", ")}`, {
      field: "rights",
    });
  }
  for (const right of spec.rights) {
    if (!allowed.includes(right)) {
      throw _grantError(
        resource,
        `right '${right}' is not valid for ${kind} resources; expected one of ${
          allowed.join(", ")
        }`,
        { right, field: "rights" },
      );
    }
  }
  const out: GrantSpec = {
    resource: normalised === "" ? kind : `${kind}:${normalised}`,
    rights: [...new Set(spec.rights)].sort(),
  };
  if (spec.effect !== undefined) {
    if (spec.effect !== "allow" && spec.effect !== "deny" && spec.effect !== "ask") {
      throw _grantError(resource, `effect '${spec.effect}' is not one of allow, deny, ask`, {
        field: "effect",
      });
    }
    out.effect = spec.effect;
  }
  if (spec.uses !== undefined) {
    if (!Number.isSafeInteger(spec.uses) || spec.uses < 1) {
      throw _grantError(resource, `uses ${spec.uses} is not a positive integer`, {
        field: "uses",
      });
    }
    out.uses = spec.uses;
  }
  if (spec.expiresAt !== undefined) {
    const at = Date.parse(spec.expiresAt);
    if (Number.isNaN(at)) {
      throw _grantError(
        resource,
        `expiresAt '${spec.expiresAt}' is not an ISO time; expected e.g. '2030-01-01T00:00:00Z'`,
        { field: "expiresAt" },
      );
    }
    if (at <= now) {
      throw _grantError(
        resource,
        `expiresAt '${spec.expiresAt}' is not in the future (now is ${
          new Date(now).toISOString()
        })`,
        { field: "expiresAt" },
      );
    }
    out.expiresAt = spec.expiresAt;
  }
  if (spec.delegable !== undefined) {
    if (typeof spec.delegable !== "boolean") {
      throw _grantError(resource, "delegable must be true or false", { field: "delegable" });
    }
    out.delegable = spec.delegable;
  }
  return out;
}

/** Options of {@linkcode issueGrant} and {@linkcode delegate}. */
export interface IssueOptions {
  /** The pid that receives the grant. */
  subject: string;
  /** Who issues it: `operator:<name>`, `image:<id>`, `pid:<pid>`, `human:<request>`. */
  issuedBy: string;
  now: number;
  /** Makes a fresh grant id. */
  nextId: () => string;
  /**
   * Called by {@linkcode delegate}, once it succeeds, for every one-time
   * parent grant a child grant draws uses from: the caller takes `uses` from
   * the parent's remaining uses, so a tree of processes shares one pool and
   * never performs more effects than the original grant allowed.
   */
  draw?: (parent: Grant, uses: number) => void;
}

/**
 * Turns a validated spec into a grant with no parent (an operator's grant, a
 * human's permission, the root image's capabilities). Validates the spec
 * first; `effect` defaults to allow, `delegable` to false.
 */
export function issueGrant(spec: GrantSpec, options: IssueOptions): Grant {
  const valid = validateGrantSpec(spec, options.now);
  return {
    id: options.nextId(),
    subject: options.subject,
    resource: valid.resource,
    rights: valid.rights,
    effect: valid.effect ?? "allow",
    uses: valid.uses ?? null,
    expiresAt: valid.expiresAt === undefined ? null : Date.parse(valid.expiresAt),
    delegable: valid.delegable ?? false,
    parentId: null,
    issuedBy: options.issuedBy,
    revoked: false,
    createdAt: options.now,
  };
}

const _RANK: Record<Effect, number> = { deny: 0, ask: 1, allow: 2 };

/**
 * Whether every target the `child` pattern matches is matched by `parent`
 * (both of `kind`). Conservative: it may say no for a pattern that is in fact
 * covered, never yes for one that is not. Covered are: an identical pattern;
 * an exact child the parent matches; and a child whose literal prefix starts
 * with the literal part of a parent of the form `<literal>**` (so `src/**`
 * covers `src/a/*.ts` and `src`, and `**` covers everything).
 */
export function covers(parent: string, child: string, kind: ResourceKind): boolean {
  const p = _compile(kind, parent);
  const c = _compile(kind, child);
  if (p.pattern === c.pattern) return true;
  if (c.exact) return p.match(c.pattern);
  if (p.pattern.endsWith("**")) {
    const literal = p.pattern.slice(0, -2);
    if (!/[*?]/.test(literal) && c.prefix.startsWith(literal)) return true;
  }
  return false;
}

/**
 * Whether some target could match both patterns. Conservative: yes unless
 * neither literal prefix is a prefix of the other.
 */
export function overlaps(a: string, b: string, kind: ResourceKind): boolean {
  const x = _compile(kind, a).prefix;
  const y = _compile(kind, b).prefix;
  return x.startsWith(y) || y.startsWith(x);
}

function _describe(grant: Grant): string {
  const notes = [
    grant.effect === "allow" ? "" : grant.effect,
    grant.delegable ? "" : "not delegable",
  ]
    .filter((note) => note !== "");
  const text = `${grant.resource} ${grant.rights.join(",")}`;
  return notes.length === 0 ? text : `${text} [${notes.join(", ")}]`;
}

function _holder(issuedBy: string): string {
  return issuedBy.startsWith("pid:") ? `process ${issuedBy.slice(4)}` : issuedBy;
}

function _holdings(grants: readonly Grant[], kind: ResourceKind, now: number): string {
  const held = grants.filter((g) => isLive(g, now) && _compiledResource(g.resource)?.kind === kind);
  if (held.length === 0) return `it holds no ${kind} grants`;
  const shown = held.slice(0, 5).map(_describe).join("; ");
  return `it holds ${shown}${held.length > 5 ? `; and ${held.length - 5} more` : ""}`;
}

/**
 * The grants a child receives for one requested grant (attenuation, DESIGN
 * §3). The request (pattern P, rights R, effect e) is covered when, for every
 * right in R, the parent holds a live, delegable grant with that right whose
 * pattern covers P (see {@linkcode covers}) and whose effect is at least as
 * permissive as e (allow ⊇ ask ⊇ deny). A deny request is always granted
 * (with parentId null): it only narrows.
 *
 * The result holds one new grant per covering parent grant (rights grouped
 * by the grant that covers them; `parentId` is that grant; uses and expiry
 * never exceed it; `delegable` as requested, default false), plus copies
 * (non-delegable, `parentId` = the source grant, rights narrowed to R) of:
 *
 * - every live parent `deny` that could overlap P, and
 * - for an `allow` request, every live parent `ask` inside P that could decide
 *   for the parent within P (it is at least as specific as the covering grant).
 *
 * so that no decision of the child is more permissive than the parent's. An
 * `ask` that could decide for the parent within P but is wider than P, or less
 * specific than the new grant, cannot be carried without widening the child:
 * such an allow request is refused (the caller may request `ask` instead).
 * Throws EPERM naming both sides when the request is not covered; EINVAL when
 * the spec is malformed.
 */
export function delegate(
  parentGrants: readonly Grant[],
  request: GrantSpec,
  options: IssueOptions,
): Grant[] {
  const { now } = options;
  const spec = validateGrantSpec(request, now);
  const { kind, pattern } = parseResource(spec.resource);
  const effect = spec.effect ?? "allow";
  const requestedExpiry = spec.expiresAt === undefined ? null : Date.parse(spec.expiresAt);
  const make = (
    fields: Pick<Grant, "rights" | "effect" | "uses" | "expiresAt" | "delegable" | "parentId">,
  ): Grant => ({
    id: options.nextId(),
    subject: options.subject,
    resource: spec.resource,
    issuedBy: options.issuedBy,
    revoked: false,
    createdAt: now,
    ...fields,
  });

  if (effect === "deny") {
    return [make({
      rights: spec.rights,
      effect: "deny",
      uses: spec.uses ?? null,
      expiresAt: requestedExpiry,
      delegable: spec.delegable ?? false,
      parentId: null,
    })];
  }

  const live = parentGrants.filter((g) => isLive(g, now) && _compiledResource(g.resource) !== null);
  const ofKind = live.filter((g) => (_compiledResource(g.resource) as _Compiled).kind === kind);
  const patternOf = (g: Grant) => (_compiledResource(g.resource) as _Compiled).pattern;
  const newSpecificity = _compile(kind, pattern).specificity;

  // Pick, for each right, the most specific covering delegable grant.
  const byParent = new Map<Grant, string[]>();
  for (const right of spec.rights) {
    let chosen: Grant | null = null;
    for (const g of ofKind) {
      if (!g.delegable || !g.rights.includes(right) || _RANK[g.effect] < _RANK[effect]) continue;
      if (!covers(patternOf(g), pattern, kind)) continue;
      if (
        chosen === null ||
        specificity(patternOf(g)) > specificity(patternOf(chosen)) ||
        (specificity(patternOf(g)) === specificity(patternOf(chosen)) &&
          _RANK[g.effect] > _RANK[chosen.effect])
      ) {
        chosen = g;
      }
    }
    if (chosen === null) {
      throw libosError(
        "EPERM",
        `Cannot delegate '${spec.resource}' ${right} to the child: ${
          _holder(options.issuedBy)
        } holds no delegable ${effect} grant covering it (${_holdings(parentGrants, kind, now)})`,
        { resource: spec.resource, right },
      );
    }
    const rights = byParent.get(chosen);
    if (rights === undefined) byParent.set(chosen, [right]);
    else rights.push(right);
  }

  const out: Grant[] = [];
  const draws: [Grant, number][] = [];
  const copies = new Map<Grant, Set<string>>();
  const addCopy = (source: Grant, right: string) => {
    const set = copies.get(source);
    if (set === undefined) copies.set(source, new Set([right]));
    else set.add(right);
  };

  for (const [parent, rights] of byParent) {
    const parentSpecificity = specificity(patternOf(parent));
    if (effect === "allow") {
      for (const ask of ofKind) {
        if (ask.effect !== "ask" || !overlaps(patternOf(ask), pattern, kind)) continue;
        const askSpecificity = specificity(patternOf(ask));
        // An ask less specific than the covering grant never decides inside P.
        if (askSpecificity < parentSpecificity) continue;
        for (const right of rights) {
          if (!ask.rights.includes(right)) continue;
          if (covers(pattern, patternOf(ask), kind) && askSpecificity >= newSpecificity) {
            addCopy(ask, right);
            continue;
          }
          throw libosError(
            "EPERM",
            `Cannot delegate '${spec.resource}' ${right} to the child as allow: ${
              _holder(options.issuedBy)
            } must ask a human for part of it (it holds ${
              _describe(ask)
            }); request effect 'ask' or a pattern that leaves it out`,
            { resource: spec.resource, right },
          );
        }
      }
    }
    const uses = parent.uses === null
      ? spec.uses ?? null
      : Math.min(spec.uses ?? parent.uses, parent.uses);
    if (parent.uses !== null && uses !== null) draws.push([parent, uses]);
    out.push(make({
      rights: [...rights].sort(),
      effect,
      uses,
      expiresAt: parent.expiresAt === null
        ? requestedExpiry
        : Math.min(requestedExpiry ?? parent.expiresAt, parent.expiresAt),
      delegable: spec.delegable ?? false,
      parentId: parent.id,
    }));
  }

  for (const deny of ofKind) {
    if (deny.effect !== "deny" || !overlaps(patternOf(deny), pattern, kind)) continue;
    for (const right of spec.rights) if (deny.rights.includes(right)) addCopy(deny, right);
  }
  for (const [source, rights] of copies) {
    out.push({
      id: options.nextId(),
      subject: options.subject,
      resource: source.resource,
      rights: [...rights].sort(),
      effect: source.effect,
      uses: source.uses,
      expiresAt: source.expiresAt,
      delegable: false,
      parentId: source.id,
      issuedBy: options.issuedBy,
      revoked: false,
      createdAt: now,
    });
  }
  for (const [parent, uses] of draws) options.draw?.(parent, uses);
  return out;
}
