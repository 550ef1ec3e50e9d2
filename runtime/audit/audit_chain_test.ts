import assert from "node:assert/strict";
import { AuditChain, decodeAudit, GENESIS_HASH, verifyAudit } from "./audit_chain.ts";
import { canonicalJson, sha256Hex } from "./canonical_json.ts";
import { hasCode } from "../errors.ts";
import type { AuditEntry, StoredAudit } from "../types.ts";

function entry(i: number, detail: Record<string, unknown> = { path: `src/f${i}.ts` }): AuditEntry {
  return {
    at: 1_700_000_000_000 + i,
    actor: "pid:p_1",
    action: "fs.write",
    pid: "p_1",
    resource: `fs:src/f${i}.ts`,
    decision: i % 3 === 0 ? "deny" : "allow",
    capabilityId: i % 3 === 0 ? null : "g_1",
    step: i,
    callId: `c${i}.0`,
    detail,
  };
}

function chainOf(count: number): StoredAudit[] {
  const chain = new AuditChain({ head: null });
  return Array.from({ length: count }, (_, i) => chain.append(entry(i + 1)));
}

/** A record whose body is `body` and whose hash is honestly computed from it. */
function forged(seq: number, body: string): StoredAudit {
  return { seq, body, hash: sha256Hex(body) };
}

/** Re-encodes record `seq` of `records` with some top-level fields changed. */
function rewritten(records: StoredAudit[], seq: number, change: Record<string, unknown>) {
  const { hash: _, ...fields } = decodeAudit(records[seq - 1]!);
  return forged(seq, canonicalJson({ ...fields, ...change }));
}

async function failureOf(source: Iterable<StoredAudit>, expectedHead?: StoredAudit) {
  const result = await verifyAudit(source, expectedHead === undefined ? {} : { expectedHead });
  assert.equal(result.ok, false, "verification should fail");
  return result as { ok: false; count: number; seq: number; reason: string };
}

Deno.test("append() numbers records from 1 and links the first to the genesis hash", () => {
  const [first, second] = chainOf(2);
  assert.equal(GENESIS_HASH, "0".repeat(64));
  assert.equal(first!.seq, 1);
  assert.equal(decodeAudit(first!).prevHash, GENESIS_HASH);
  assert.equal(second!.seq, 2);
  assert.equal(decodeAudit(second!).prevHash, first!.hash);
  assert.equal(first!.hash, sha256Hex(first!.body));
});

Deno.test("append() stores the canonical JSON of the entry plus seq and prevHash", () => {
  const stored = new AuditChain({ head: null }).append(entry(1, { z: 1, a: [true] }));
  assert.equal(
    stored.body,
    canonicalJson({ ...entry(1, { z: 1, a: [true] }), seq: 1, prevHash: GENESIS_HASH }),
  );
  assert.ok(stored.body.startsWith('{"action":"fs.write","actor":"pid:p_1","at":'));
});

Deno.test("decodeAudit() gives back the entry with its seq, prevHash and hash", () => {
  const stored = new AuditChain({ head: null }).append(entry(7));
  assert.deepEqual(decodeAudit(stored), {
    ...entry(7),
    seq: 1,
    prevHash: GENESIS_HASH,
    hash: stored.hash,
  });
});

Deno.test("decodeAudit() refuses a body that is not a JSON object with EINVAL", () => {
  for (const body of ["{", "[1]", "null"]) {
    assert.throws(
      () => decodeAudit({ seq: 3, body, hash: sha256Hex(body) }),
      (error) => hasCode(error, "EINVAL") && /Cannot decode audit record 3/.test(error.message),
    );
  }
});

Deno.test("append() refuses an entry with a missing, unknown or mistyped field", () => {
  const chain = new AuditChain({ head: null });
  const { step: _, ...missing } = entry(1);
  assert.throws(() => chain.append(missing as AuditEntry), /'step' must be number\|null/);
  assert.throws(
    () => chain.append({ ...entry(1), extra: 1 } as AuditEntry),
    /'extra' is not an audit entry field/,
  );
  assert.throws(
    () => chain.append({ ...entry(1), seq: 9 } as AuditEntry),
    /'seq' is not an audit entry field/,
  );
  assert.throws(
    () => chain.append({ ...entry(1), detail: [] as unknown as Record<string, unknown> }),
    /'detail' must be object, not an array/,
  );
  assert.throws(
    () => chain.append({ ...entry(1), detail: { n: NaN } }),
    /Cannot encode '\$\.detail\.n'/,
  );
  assert.equal(chain.head, null, "a refused entry does not move the head");
});

Deno.test("AuditChain continues a loaded log from its head", async () => {
  const records = chainOf(3);
  const resumed = new AuditChain({ head: records[2]! });
  records.push(resumed.append(entry(4)));
  assert.equal(records[3]!.seq, 4);
  assert.deepEqual(await verifyAudit(records), {
    ok: true,
    count: 4,
    head: { seq: 4, hash: records[3]!.hash },
  });
});

Deno.test("rollback() undoes appends whose store write failed", async () => {
  const chain = new AuditChain({ head: null });
  const first = chain.append(entry(1));
  chain.append(entry(2)); // say the store refused this batch
  chain.rollback(first);
  assert.equal(chain.head, first);
  const next = chain.append(entry(3));
  assert.equal(next.seq, 2);
  assert.equal((await verifyAudit([first, next])).ok, true);
  chain.rollback(null);
  assert.equal(chain.append(entry(4)).seq, 1);
});

Deno.test("rollback() refuses a record after the head", () => {
  const records = chainOf(2);
  const chain = new AuditChain({ head: records[0]! });
  assert.throws(() => chain.rollback(records[1]!), RangeError);
});

Deno.test("verifyAudit() accepts an untampered chain of 1000 records and reports its head", async () => {
  const records = chainOf(1000);
  const last = records[999]!;
  assert.deepEqual(await verifyAudit(records), {
    ok: true,
    count: 1000,
    head: { seq: 1000, hash: last.hash },
  });
  assert.equal((await verifyAudit(records, { expectedHead: last })).ok, true);
  assert.equal((await verifyAudit(records, { expectedHead: records[499]! })).ok, true);
});

Deno.test("verifyAudit() accepts an empty log", async () => {
  assert.deepEqual(await verifyAudit([]), { ok: true, count: 0, head: null });
  assert.deepEqual(await verifyAudit([], { expectedHead: { seq: 0, hash: GENESIS_HASH } }), {
    ok: true,
    count: 0,
    head: null,
  });
});

Deno.test("verifyAudit() reads an async iterable of records or of pages of records", async () => {
  const records = chainOf(50);
  async function* pages() {
    for (let i = 0; i < records.length; i += 16) yield* records.slice(i, i + 16);
  }
  async function* wholePages() {
    for (let i = 0; i < records.length; i += 16) yield records.slice(i, i + 16);
  }
  assert.equal((await verifyAudit(pages())).ok, true);
  assert.deepEqual(await verifyAudit(wholePages()), {
    ok: true,
    count: 50,
    head: { seq: 50, hash: records[49]!.hash },
  });
  records[20] = { ...records[20]!, hash: GENESIS_HASH };
  const result = await verifyAudit(pages());
  assert.equal(result.ok ? 0 : result.seq, 21);
  const paged = await verifyAudit(wholePages());
  assert.equal(paged.ok ? 0 : paged.seq, 21);
});

Deno.test("verifyAudit() accepts strings that need escapes in the body", async () => {
  const chain = new AuditChain({ head: null });
  const records = [
    chain.append(entry(1, { quote: 'say "hi"', slash: "a\\b", line: "x\ny\t\u0001", emoji: "😀" })),
    chain.append(entry(2, { nested: [{ a: null, b: [true, false, -1.5e-3] }, [], {}] })),
    chain.append({ ...entry(3), resource: 'fs:"odd\\name"' }),
  ];
  assert.equal((await verifyAudit(records)).ok, true);
});

Deno.test("verifyAudit() detects an edited body at its seq", async () => {
  const records = chainOf(10);
  records[4] = { ...records[4]!, body: records[4]!.body.replace('"allow"', '"deny"') };
  const failure = await failureOf(records);
  assert.equal(failure.seq, 5);
  assert.equal(failure.count, 4);
  assert.match(failure.reason, /record 5 does not hash to its stored hash/);
});

Deno.test("verifyAudit() detects an edited hash at its seq", async () => {
  const records = chainOf(10);
  records[6] = { ...records[6]!, hash: sha256Hex("something else") };
  const failure = await failureOf(records);
  assert.equal(failure.seq, 7);
  assert.match(failure.reason, /record 7 does not hash/);
});

Deno.test("verifyAudit() detects a body and hash rewritten together at the next record", async () => {
  const records = chainOf(10);
  records[2] = rewritten(records, 3, { action: "fs.read" });
  const failure = await failureOf(records);
  assert.equal(failure.seq, 4);
  assert.match(failure.reason, /record 4 links to .*, not to record 3's hash/);
});

Deno.test("verifyAudit() detects a deleted record by the gap in seq", async () => {
  const records = chainOf(10);
  records.splice(5, 1);
  const failure = await failureOf(records);
  assert.equal(failure.seq, 6);
  assert.match(failure.reason, /expected record 6, found record 7: record 6 is missing/);
});

Deno.test("verifyAudit() detects a deleted record renumbered to hide the gap", async () => {
  const records = chainOf(10);
  records.splice(5, 1);
  for (let i = 5; i < records.length; i++) records[i] = { ...records[i]!, seq: i + 1 };
  const failure = await failureOf(records);
  assert.equal(failure.seq, 6);
  assert.match(failure.reason, /record 6 says in its body that it is record 7/);
});

Deno.test("verifyAudit() detects an inserted record", async () => {
  const records = chainOf(10);
  // A well-formed record 4 that links to record 3, slipped in before the real 4.
  const fake = forged(4, canonicalJson({ ...entry(99), seq: 4, prevHash: records[2]!.hash }));
  records.splice(3, 0, fake);
  const failure = await failureOf(records);
  assert.equal(failure.seq, 5);
  assert.match(failure.reason, /expected record 5, found record 4: a record is repeated, inserted/);
  // Renumbering the records after it does not hide it either.
  for (let i = 4; i < records.length; i++) records[i] = { ...records[i]!, seq: i + 1 };
  const renumbered = await failureOf(records);
  assert.equal(renumbered.seq, 5);
  assert.match(renumbered.reason, /record 5 says in its body that it is record 4/);
});

Deno.test("verifyAudit() detects two records swapped", async () => {
  const records = chainOf(10);
  [records[7], records[8]] = [records[8]!, records[7]!];
  const failure = await failureOf(records);
  assert.equal(failure.seq, 8);
  assert.match(failure.reason, /expected record 8, found record 9/);
});

Deno.test("verifyAudit() detects swapped records whose seq columns were swapped back", async () => {
  const records = chainOf(10);
  [records[7], records[8]] = [{ ...records[8]!, seq: 8 }, { ...records[7]!, seq: 9 }];
  const failure = await failureOf(records);
  assert.equal(failure.seq, 8);
  assert.match(failure.reason, /record 8 says in its body that it is record 9/);
});

Deno.test("verifyAudit() detects a body whose seq disagrees with its place", async () => {
  const records = chainOf(10);
  records[2] = rewritten(records, 3, { seq: 30 });
  const failure = await failureOf(records);
  assert.equal(failure.seq, 3);
  assert.match(failure.reason, /record 3 says in its body that it is record 30/);
});

Deno.test("verifyAudit() detects a body whose prevHash disagrees with its place", async () => {
  const records = chainOf(10);
  records[0] = rewritten(records, 1, { prevHash: "f".repeat(64) });
  const first = await failureOf(records);
  assert.equal(first.seq, 1);
  assert.match(first.reason, /record 1 links to ffffffffffff…, not to the genesis hash/);
  const again = chainOf(10);
  again[5] = rewritten(again, 6, { prevHash: again[3]!.hash });
  const sixth = await failureOf(again);
  assert.equal(sixth.seq, 6);
  assert.match(sixth.reason, /record 6 links to .*, not to record 5's hash/);
});

Deno.test("verifyAudit() detects truncation only against an expected head", async () => {
  const records = chainOf(10);
  const head = records[9]!;
  const truncated = records.slice(0, 7);
  assert.deepEqual(await verifyAudit(truncated), {
    ok: true,
    count: 7,
    head: { seq: 7, hash: truncated[6]!.hash },
  });
  const failure = await failureOf(truncated, head);
  assert.equal(failure.seq, 8);
  assert.equal(failure.count, 7);
  assert.match(failure.reason, /the log ends at record 7, before the expected head 10/);
  assert.equal((await failureOf([], head)).seq, 1);
});

Deno.test("verifyAudit() detects a log rewritten from scratch against an expected head", async () => {
  const original = chainOf(10);
  const chain = new AuditChain({ head: null });
  const rewrittenLog = Array.from({ length: 12 }, (_, i) => chain.append(entry(100 + i)));
  assert.equal((await verifyAudit(rewrittenLog)).ok, true, "self-consistent without an anchor");
  const failure = await failureOf(rewrittenLog, original[9]!);
  assert.equal(failure.seq, 10);
  assert.match(failure.reason, /record 10 has hash .*, not the expected head's/);
});

Deno.test("verifyAudit() refuses forged bodies that JSON.parse would read differently", async () => {
  const records = chainOf(3);
  const canonical = records[1]!.body;
  const prev = records[0]!.hash;
  const forgeries: Record<string, string> = {
    // JSON.parse keeps the last duplicate: the record would decode with another prevHash.
    "duplicate key": canonical.replace(
      `"seq":2,`,
      `"seq":2,"prevHash":"${"e".repeat(64)}",`,
    ),
    "extra field": canonical.slice(0, -1) + ',"zzz":1}',
    "unsorted keys": JSON.stringify(
      JSON.parse(canonical),
      Object.keys(JSON.parse(canonical))
        .reverse(),
    ),
    "whitespace": canonical.replace('"actor":', '"actor": '),
    "hash field": canonical.slice(0, -1) + `,"hash":"${prev}"}`,
    "raw control character": canonical.replace("src/f2.ts", "src/f2\u0007.ts"),
    "bad escape": canonical.replace("src/f2.ts", "src\\x2.ts"),
    "trailing text": canonical + " ",
    "unclosed detail": canonical.replace('"detail":{', '"detail":{"a":[1,'),
    "number for a string": canonical.replace('"actor":"pid:p_1"', '"actor":1'),
    "bad number": canonical.replace('"step":2', '"step":02'),
  };
  for (const [name, body] of Object.entries(forgeries)) {
    assert.notEqual(body, canonical, name);
    const failure = await failureOf([records[0]!, forged(2, body)]);
    assert.equal(failure.seq, 2, name);
    assert.match(failure.reason, /record 2 /, name);
  }
});

Deno.test("verifyAudit() reads prevHash at the top level, not one hidden in detail", async () => {
  const records = chainOf(3);
  const { hash: _, ...fields } = decodeAudit(records[1]!);
  // The genuine link hidden in detail, a wrong one at the top level.
  const body = canonicalJson({
    ...fields,
    detail: { prevHash: records[0]!.hash, seq: 2 },
    prevHash: "a".repeat(64),
  });
  const failure = await failureOf([records[0]!, forged(2, body)]);
  assert.equal(failure.seq, 2);
  assert.match(failure.reason, /record 2 links to aaaaaaaaaaaa…/);
});

Deno.test("verifyAudit() survives a forged body nested deeper than the stack", async () => {
  const records = chainOf(1);
  const { hash: _, ...fields } = decodeAudit(records[0]!);
  const deep = "[".repeat(200_000) + "]".repeat(200_000);
  const body = canonicalJson({ ...fields, detail: {} }).replace(
    '"detail":{}',
    `"detail":{"a":${deep}}`,
  );
  assert.deepEqual((await verifyAudit([forged(1, body)])).ok, true);
  const broken = body.replace("[]", "[}");
  assert.equal((await failureOf([forged(1, broken)])).seq, 1);
});

Deno.test("verifyAudit() with `after` checks only the records after an already verified head", async () => {
  const records = chainOf(1000);
  const verified = records[599]!;
  assert.deepEqual(await verifyAudit(records.slice(600), { after: verified }), {
    ok: true,
    count: 400,
    head: { seq: 1000, hash: records[999]!.hash },
  });
  assert.deepEqual(await verifyAudit([], { after: verified }), {
    ok: true,
    count: 0,
    head: { seq: 600, hash: verified.hash },
  });
  const skipped = await verifyAudit(records.slice(601), { after: verified });
  assert.equal(skipped.ok ? 0 : skipped.seq, 601);
  const relinked = await verifyAudit(records.slice(600), {
    after: { seq: 600, hash: sha256Hex("a different record 600") },
  });
  assert.equal(relinked.ok ? 0 : relinked.seq, 601);
  const tampered = records.slice(600);
  tampered[99] = { ...tampered[99]!, hash: GENESIS_HASH };
  const failure = await verifyAudit(tampered, { after: verified });
  assert.deepEqual(failure.ok ? null : [failure.seq, failure.count], [700, 99]);
});
