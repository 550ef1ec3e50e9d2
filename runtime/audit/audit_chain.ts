/**
 * The tamper-evident audit log (DESIGN §2, "Audit log"): every record holds the
 * hash of its predecessor, so `verifyAudit` detects an edited, deleted,
 * inserted or reordered record, and — given the head it expects — a truncated
 * log.
 *
 * A stored record is `{seq, body, hash}`: `body` is the canonical JSON of the
 * entry plus its `seq` and `prevHash`, `hash` is the hex SHA-256 of `body`. The
 * body's top level is always exactly the fields of {@linkcode AuditRecord}
 * (without `hash`), in canonical order, so the verifier can check a record by
 * scanning its text once instead of parsing it into objects.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "./canonical_json.ts";
import { libosError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { AuditEntry, AuditRecord, StoredAudit } from "../types.ts";

/** The `prevHash` of the first record: 64 zeros. */
export const GENESIS_HASH = "0".repeat(64);

/** The place and hash of one record: what a verifier anchors to. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** Options of {@linkcode AuditChain}. */
export interface AuditChainOptions {
  /** The last stored record, or null for an empty log. */
  head: StoredAudit | null;
  /**
   * Where seqs come from (default: the head's seq + 1). A kernel of a cluster
   * writes a chain of its own whose seqs come from the store's allocator: a
   * cluster-wide index, increasing along each chain (docs/cluster.md).
   */
  nextSeq?: () => number;
}

/**
 * The writer's end of the chain. It does not persist anything: `append`
 * returns the record for the caller to store, and `rollback` undoes appends
 * whose store write failed, so the next append links to what is durable.
 */
export class AuditChain {
  #head: StoredAudit | null;
  readonly #nextSeq: (() => number) | null;

  constructor(options: AuditChainOptions) {
    this.#head = options.head;
    this.#nextSeq = options.nextSeq ?? null;
  }

  /** The last record appended (or loaded), null for an empty log. */
  get head(): StoredAudit | null {
    return this.#head;
  }

  /**
   * Chains `entry` after the head and makes it the new head. Throws a
   * `TypeError` for an entry that is not exactly an {@linkcode AuditEntry}
   * (a missing field, a field of the wrong kind, an unknown field), since
   * such an entry would be chained in a form `verifyAudit` refuses.
   */
  append(entry: AuditEntry): StoredAudit {
    const seq = this.#nextSeq !== null
      ? this.#nextSeq()
      : this.#head === null
      ? 1
      : this.#head.seq + 1;
    const prevHash = this.#head === null ? GENESIS_HASH : this.#head.hash;
    const body = canonicalJson(_recordOf(entry, seq, prevHash));
    const stored: StoredAudit = { seq, body, hash: sha256Hex(body) };
    this.#head = stored;
    return stored;
  }

  /**
   * Moves the head back to `to` (a record appended earlier, or null for an
   * empty log), undoing the appends after it. Throws a `RangeError` for a
   * record after the head.
   */
  rollback(to: StoredAudit | null): void {
    if (to !== null && this.#head !== null && to.seq > this.#head.seq) {
      throw new RangeError(
        `Cannot roll the audit chain back to record ${to.seq}: the head is record ${this.#head.seq}`,
      );
    }
    this.#head = to;
  }
}

/**
 * Decodes a stored record into its fields plus its hash. It does not verify
 * the record (see {@linkcode verifyAudit}); a body that is not a JSON object is
 * an `EINVAL` error.
 */
export function decodeAudit(stored: StoredAudit): AuditRecord {
  let value: unknown;
  try {
    value = JSON.parse(stored.body);
  } catch (cause) {
    throw libosError(
      "EINVAL",
      `Cannot decode audit record ${stored.seq}: its body is not JSON`,
      { field: "body" },
      cause,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw libosError(
      "EINVAL",
      `Cannot decode audit record ${stored.seq}: its body is not a JSON object`,
      { field: "body" },
    );
  }
  return { ...(value as Omit<AuditRecord, "hash">), hash: stored.hash };
}

/** Options of {@linkcode verifyAudit}. */
export interface VerifyAuditOptions {
  /**
   * The head the verifier expects the log to reach (kept outside the store,
   * e.g. published or remembered from the last verification). Without it a
   * log whose tail was cut off verifies as a shorter, intact log. The log may
   * continue past it. Default: none.
   */
  expectedHead?: AuditHead;
  /**
   * A record verified by an earlier pass: the source starts with the record
   * after it, which must link to its hash. Verifying from the last verified
   * head costs only the new records. Default: none (the source starts at
   * record 1).
   */
  after?: AuditHead;
  /**
   * "one" (default): one chain, whose seqs are 1, 2, 3, …. "many": the log of
   * a cluster, one chain per kernel interleaved by a cluster-wide index: seqs
   * increase (with gaps), and each record links to the genesis hash (the first
   * of a chain) or to the last record of a chain so far. An edited, deleted,
   * inserted or reordered record breaks a link as before; a chain's cut-off
   * tail shows only against `expectedHead`. `after` is not supported with it.
   */
  chains?: "one" | "many";
}

/** The outcome of {@linkcode verifyAudit}. */
export type AuditVerification =
  | {
    ok: true;
    /** Records verified (after `options.after`, if given). */
    count: number;
    /** The last record, null for an empty log (`options.after` when nothing follows it). */
    head: AuditHead | null;
  }
  | {
    ok: false;
    /** Records verified before the first broken one. */
    count: number;
    /** The place in the chain where it breaks. */
    seq: number;
    /** What is wrong there, naming the record. */
    reason: string;
  };

/**
 * Verifies a whole log, first record first: each record's place (`seq` 1, 2,
 * …), its hash (SHA-256 of its body), its body (canonical JSON with exactly the
 * audit record fields, whose `seq` is its place and whose `prevHash` is its
 * predecessor's hash, or {@linkcode GENESIS_HASH} for the first) and, with
 * `expectedHead`, that the log reaches that head with that hash. It stops at
 * the first break and reports its place.
 *
 * An async source may yield records one by one or in pages (arrays, as
 * `Store.readAudit` returns them), which saves a promise per record.
 *
 * Nested values (`detail`) are checked to be whitespace-free JSON; their key
 * order is covered by the hash but not re-checked.
 */
export async function verifyAudit(
  source: AsyncIterable<StoredAudit | readonly StoredAudit[]> | Iterable<StoredAudit>,
  options: VerifyAuditOptions = {},
): Promise<AuditVerification> {
  const { expectedHead, after } = options;
  for (const [name, head] of [["expectedHead", expectedHead], ["after", after]] as const) {
    if (head !== undefined && !(Number.isSafeInteger(head.seq) && head.seq >= 0)) {
      throw new RangeError(`Cannot verify the audit log: ${name}.seq ${head.seq} is not a seq`);
    }
  }
  if (options.chains === "many") {
    if (after !== undefined) {
      throw new RangeError("Cannot verify a log of many chains from 'after': verify it whole");
    }
    return await _verifyChains(source, expectedHead ?? null);
  }
  const first = after === undefined || after.seq === 0 ? 1 : after.seq + 1;
  const anchor = expectedHead === undefined || expectedHead.seq < first ? null : expectedHead;
  let last = first - 1;
  let prevHash = first === 1 ? GENESIS_HASH : after!.hash;
  const check = (stored: StoredAudit): AuditVerification | null => {
    const seq = last + 1;
    const reason = _checkRecord(stored, seq, prevHash) ??
      (anchor !== null && seq === anchor.seq && stored.hash !== anchor.hash
        ? `record ${seq} has hash ${_short(stored.hash)}, not the expected head's ` +
          `${_short(anchor.hash)}: the log was rewritten at or before it`
        : null);
    if (reason !== null) return { ok: false, count: seq - first, seq, reason };
    last = seq;
    prevHash = stored.hash;
    return null;
  };
  // A synchronous loop where possible: `for await` costs a promise per record.
  if (Symbol.iterator in source) {
    for (const stored of source) {
      const failure = check(stored);
      if (failure !== null) return failure;
    }
  } else {
    for await (const item of source) {
      if (_isPage(item)) {
        for (const stored of item) {
          const failure = check(stored);
          if (failure !== null) return failure;
        }
      } else {
        const failure = check(item);
        if (failure !== null) return failure;
      }
    }
  }
  const count = last - first + 1;
  if (anchor !== null && last < anchor.seq) {
    return {
      ok: false,
      count,
      seq: last + 1,
      reason: `the log ends at record ${last}, before the expected head ${anchor.seq}: ` +
        `records ${last + 1}…${anchor.seq} were cut off`,
    };
  }
  return { ok: true, count, head: last === 0 ? null : { seq: last, hash: prevHash } };
}

/** {@linkcode verifyAudit} of a log of many chains (`chains: "many"`). */
async function _verifyChains(
  source: AsyncIterable<StoredAudit | readonly StoredAudit[]> | Iterable<StoredAudit>,
  anchor: AuditHead | null,
): Promise<AuditVerification> {
  /** The hash of each chain's last record so far. */
  const tails = new Set<string>();
  let last = 0;
  let lastHash = GENESIS_HASH;
  let count = 0;
  let anchored = anchor === null || anchor.seq === 0;
  const check = (stored: StoredAudit): AuditVerification | null => {
    const seq = stored.seq;
    const fail = (at: number, reason: string): AuditVerification => ({
      ok: false,
      count,
      seq: at,
      reason,
    });
    if (!(Number.isSafeInteger(seq) && seq > last)) {
      return fail(
        last + 1,
        `found record ${
          String(seq)
        } after record ${last}: a record is repeated, inserted or out of order`,
      );
    }
    const body = typeof stored.body === "string" ? stored.body : "";
    const at = body.lastIndexOf(_LINK);
    const link = at < 0 ? "" : body.slice(at + _LINK.length, at + _LINK.length + 64);
    if (link !== GENESIS_HASH && !tails.has(link)) {
      return fail(
        seq,
        `record ${seq} links to ${_short(link)}, the last record of no chain: ` +
          "a record before it was edited, deleted, inserted or moved",
      );
    }
    const reason = _checkRecord(stored, seq, link) ??
      (anchor !== null && seq === anchor.seq && stored.hash !== anchor.hash
        ? `record ${seq} has hash ${_short(stored.hash)}, not the expected head's ` +
          `${_short(anchor.hash)}: the log was rewritten at or before it`
        : null);
    if (reason !== null) return fail(seq, reason);
    if (anchor !== null && seq === anchor.seq) anchored = true;
    tails.delete(link);
    tails.add(stored.hash);
    last = seq;
    lastHash = stored.hash;
    count++;
    return null;
  };
  if (Symbol.iterator in source) {
    for (const stored of source) {
      const failure = check(stored);
      if (failure !== null) return failure;
    }
  } else {
    for await (const item of source) {
      for (const stored of _isPage(item) ? item : [item]) {
        const failure = check(stored);
        if (failure !== null) return failure;
      }
    }
  }
  if (!anchored) {
    return {
      ok: false,
      count,
      seq: anchor!.seq,
      reason: `the log holds no record ${anchor!.seq}, the expected head: it was cut off`,
    };
  }
  return { ok: true, count, head: last === 0 ? null : { seq: last, hash: lastHash } };
}

/** How a canonical body introduces its link (the last such text: see _verifyChains). */
const _LINK = `,"prevHash":"`;

/** Options of {@linkcode auditPages}. */
export interface AuditPagesOptions {
  /** Records per read. Default 10,000. */
  pageSize?: number;
}

/**
 * Reads a store's whole audit log in pages, first record first: the source
 * {@linkcode verifyAudit} takes (`verifyAudit(auditPages(store))`). Records
 * appended while it reads are read too; it ends at the first empty page.
 */
export async function* auditPages(
  store: Pick<Store, "readAudit">,
  options: AuditPagesOptions = {},
): AsyncGenerator<StoredAudit[], void, undefined> {
  const limit = options.pageSize ?? 10_000;
  if (!(Number.isSafeInteger(limit) && limit > 0)) {
    throw new RangeError(
      `Cannot page the audit log: pageSize must be an integer > 0, got ${limit}`,
    );
  }
  let after = 0;
  for (;;) {
    const page = await store.readAudit({ afterSeq: after, limit });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!.seq;
  }
}

function _isPage(item: StoredAudit | readonly StoredAudit[]): item is readonly StoredAudit[] {
  return Array.isArray(item);
}

// ---------------------------------------------------------------------------
// Record shape

type _Kind = "string" | "string|null" | "number" | "number|null" | "object" | "seq" | "prevHash";

/** The body's fields and what each holds; typed so that it tracks AuditRecord. */
const _FIELDS: Record<Exclude<keyof AuditRecord, "hash">, _Kind> = {
  action: "string",
  actor: "string",
  at: "number",
  callId: "string|null",
  capabilityId: "string|null",
  decision: "string|null",
  detail: "object",
  pid: "string|null",
  prevHash: "prevHash",
  resource: "string|null",
  seq: "seq",
  step: "number|null",
};

/** The fields in canonical order, each with the text that introduces it in a body. */
const _LAYOUT: readonly { name: string; kind: _Kind; prefix: string }[] = Object.keys(_FIELDS)
  .sort()
  .map((name, i) => ({
    name,
    kind: _FIELDS[name as keyof typeof _FIELDS],
    prefix: `${i === 0 ? "{" : ","}${JSON.stringify(name)}:`,
  }));

function _recordOf(entry: AuditEntry, seq: number, prevHash: string): Omit<AuditRecord, "hash"> {
  for (const name in entry) {
    if (!Object.hasOwn(_FIELDS, name) || name === "seq" || name === "prevHash") {
      throw new TypeError(`Cannot append an audit entry: '${name}' is not an audit entry field`);
    }
  }
  for (const field of _LAYOUT) {
    if (field.kind === "seq" || field.kind === "prevHash") continue;
    const value: unknown = entry[field.name as keyof AuditEntry];
    if (!_isKind(value, field.kind)) {
      throw new TypeError(
        `Cannot append an audit entry: '${field.name}' must be ${field.kind}, not ${
          value === null ? "null" : Array.isArray(value) ? "an array" : typeof value
        }`,
      );
    }
  }
  return { ...entry, seq, prevHash };
}

function _isKind(value: unknown, kind: _Kind): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "string|null":
      return value === null || typeof value === "string";
    case "number":
      return typeof value === "number";
    case "number|null":
      return value === null || typeof value === "number";
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "seq":
    case "prevHash":
      return true;
  }
}

// ---------------------------------------------------------------------------
// Verification of one record

/** Checks one record at its place; returns what is wrong, or null. */
function _checkRecord(stored: StoredAudit, seq: number, prevHash: string): string | null {
  if (stored.seq !== seq) {
    const what = typeof stored.seq === "number" && stored.seq > seq
      ? `record ${seq} is missing or out of order`
      : "a record is repeated, inserted or out of order";
    return `expected record ${seq}, found record ${String(stored.seq)}: ${what}`;
  }
  const body = stored.body;
  if (typeof body !== "string" || sha256Hex(body) !== stored.hash) {
    return `record ${seq} does not hash to its stored hash: its body or its hash was edited`;
  }
  const plain = !_ESCAPE_OR_CONTROL.test(body);
  let at = 0;
  let seqAt = 0;
  let seqEnd = 0;
  let linkAt = 0;
  for (const field of _LAYOUT) {
    if (!body.startsWith(field.prefix, at)) {
      return `record ${seq} is not a canonical audit record: expected field '${field.name}' at offset ${at}`;
    }
    at += field.prefix.length;
    const end = _scanField(body, at, field.kind, plain);
    if (end < 0) {
      return `record ${seq} is not a canonical audit record: field '${field.name}' is not ${field.kind}`;
    }
    if (field.kind === "seq") {
      seqAt = at;
      seqEnd = end;
    }
    if (field.kind === "prevHash") linkAt = end - at === 66 ? at + 1 : -1;
    at = end;
  }
  if (at !== body.length - 1 || body.charCodeAt(at) !== _CLOSE_BRACE) {
    return `record ${seq} is not a canonical audit record: unexpected text at offset ${at}`;
  }
  const seqText = String(seq);
  if (seqEnd - seqAt !== seqText.length || !body.startsWith(seqText, seqAt)) {
    return `record ${seq} says in its body that it is record ${body.slice(seqAt, seqEnd)}`;
  }
  if (linkAt < 0 || !body.startsWith(prevHash, linkAt)) {
    const link = linkAt < 0 ? "a malformed hash" : _short(body.slice(linkAt, linkAt + 64));
    const before = seq === 1 ? "the genesis hash" : `record ${seq - 1}'s hash ${_short(prevHash)}`;
    return `record ${seq} links to ${link}, not to ${before}: ` +
      "a record before it was edited, deleted, inserted or moved";
  }
  return null;
}

function _short(hash: string): string {
  return hash.length > 12 ? `${hash.slice(0, 12)}…` : hash;
}

// The scanners below accept exactly whitespace-free JSON (canonical JSON has no
// whitespace) and return the end of the token they scan, or -1. `plain` says
// the whole body holds no backslash and no control character — the common
// case — so a string ends at the next quote.

/** A backslash or a raw control character (never raw in canonical JSON). */
// deno-lint-ignore no-control-regex -- looking for exactly those characters
const _ESCAPE_OR_CONTROL = /[\u0000-\u001f\\]/;

/** A JSON string token: no raw control characters, only JSON escapes. */
// deno-lint-ignore no-control-regex -- JSON forbids raw control characters in strings
const _STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

const _QUOTE = 0x22;
const _COMMA = 0x2c;
const _MINUS = 0x2d;
const _DOT = 0x2e;
const _ZERO = 0x30;
const _ONE = 0x31;
const _NINE = 0x39;
const _COLON = 0x3a;
const _OPEN_BRACE = 0x7b;
const _CLOSE_BRACE = 0x7d;
const _OPEN_BRACKET = 0x5b;
const _CLOSE_BRACKET = 0x5d;
const _PLUS = 0x2b;
const _E = 0x65;
const _E_UPPER = 0x45;
const _N = 0x6e;
const _T = 0x74;
const _F = 0x66;

/** Scans a top-level field's value of `kind`. */
function _scanField(body: string, at: number, kind: _Kind, plain: boolean): number {
  const c = body.charCodeAt(at);
  switch (kind) {
    case "string":
    case "prevHash":
      return c === _QUOTE ? _scanString(body, at, plain) : -1;
    case "string|null":
      return c === _QUOTE ? _scanString(body, at, plain) : _scanLiteral(body, at, "null");
    case "number":
    case "seq":
      return _scanNumber(body, at);
    case "number|null":
      return c === _N ? _scanLiteral(body, at, "null") : _scanNumber(body, at);
    case "object":
      return c === _OPEN_BRACE ? _scanValue(body, at, plain) : -1;
  }
}

function _scanString(text: string, at: number, plain: boolean): number {
  if (plain) {
    const end = text.indexOf('"', at + 1);
    return end < 0 ? -1 : end + 1;
  }
  _STRING.lastIndex = at;
  return _STRING.test(text) ? _STRING.lastIndex : -1;
}

function _isDigit(c: number): boolean {
  return c >= _ZERO && c <= _NINE;
}

function _scanNumber(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === _MINUS) i++;
  const first = text.charCodeAt(i);
  if (first === _ZERO) {
    i++;
  } else if (first >= _ONE && first <= _NINE) {
    i++;
    while (_isDigit(text.charCodeAt(i))) i++;
  } else {
    return -1;
  }
  if (text.charCodeAt(i) === _DOT) {
    i++;
    if (!_isDigit(text.charCodeAt(i))) return -1;
    while (_isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === _E || e === _E_UPPER) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === _PLUS || sign === _MINUS) i++;
    if (!_isDigit(text.charCodeAt(i))) return -1;
    while (_isDigit(text.charCodeAt(i))) i++;
  }
  return i;
}

function _scanLiteral(text: string, at: number, literal: string): number {
  return text.startsWith(literal, at) ? at + literal.length : -1;
}

/** Containers open while scanning a nested value: true for an object. */
const _open: boolean[] = [];

/**
 * Scans one value of any depth without recursion (a forged body may nest
 * deeper than the stack).
 */
function _scanValue(text: string, at: number, plain: boolean): number {
  _open.length = 0;
  let i = at;
  for (;;) {
    // A value starts at i.
    const c = text.charCodeAt(i);
    if (c === _OPEN_BRACE || c === _OPEN_BRACKET) {
      const object = c === _OPEN_BRACE;
      if (text.charCodeAt(i + 1) === (object ? _CLOSE_BRACE : _CLOSE_BRACKET)) {
        i += 2;
      } else {
        _open.push(object);
        i = object ? _scanKey(text, i + 1, plain) : i + 1;
        if (i < 0) return -1;
        continue;
      }
    } else if (c === _QUOTE) {
      i = _scanString(text, i, plain);
    } else if (c === _N) {
      i = _scanLiteral(text, i, "null");
    } else if (c === _T) {
      i = _scanLiteral(text, i, "true");
    } else if (c === _F) {
      i = _scanLiteral(text, i, "false");
    } else {
      i = _scanNumber(text, i);
    }
    if (i < 0) return -1;
    // After a value: close containers until one continues with a comma.
    for (;;) {
      if (_open.length === 0) return i;
      const object = _open[_open.length - 1];
      const d = text.charCodeAt(i);
      if (d === _COMMA) {
        i = object ? _scanKey(text, i + 1, plain) : i + 1;
        if (i < 0) return -1;
        break;
      }
      if (d !== (object ? _CLOSE_BRACE : _CLOSE_BRACKET)) return -1;
      _open.pop();
      i += 1;
    }
  }
}

/** Scans `"key":` and returns where its value starts. */
function _scanKey(text: string, at: number, plain: boolean): number {
  if (text.charCodeAt(at) !== _QUOTE) return -1;
  const end = _scanString(text, at, plain);
  return end >= 0 && text.charCodeAt(end) === _COLON ? end + 1 : -1;
}
