/**
 * Network addresses in any spelling: what kind of place a host names (a
 * special address such as loopback or private, a public one, or a name still
 * to be resolved), and the one canonical string a `net:` grant is matched
 * against.
 *
 * The IPv4 parser follows the WHATWG URL standard (the parser `fetch` itself
 * uses), which accepts every spelling `inet_aton` does: dotted decimal,
 * a single 32-bit number (`2130706433`), hex and octal parts (`0x7f.0.0.1`,
 * `0177.0.0.1`) and short forms (`127.1`, where the last part fills the
 * remaining bytes). A host whose last label is numeric is an IPv4 attempt: if
 * it does not parse, the host is invalid (a TypeError), never a name — so
 * `1.2.3.999` cannot slip through as a "name" that some resolver later reads
 * as an address.
 *
 * IPv6 is accepted with or without brackets, in any compression, with an
 * embedded dotted IPv4 tail. An IPv4-mapped address (`::ffff:127.0.0.1`,
 * `::ffff:7f00:1`) is the IPv4 address it maps, for classification and for
 * normalisation alike, so a grant or a refusal written for `127.0.0.1` also
 * holds for its mapped spelling. Zone identifiers (`fe80::1%eth0`) are
 * refused.
 *
 * What is special is data: {@linkcode IPV4_SPECIAL} and
 * {@linkcode IPV6_SPECIAL} are the IANA special-purpose address registries,
 * row by row with their RFCs, plus the few blocks other IANA registries set
 * apart (multicast, the deprecated IPv6 forms, and IPv6 outside the global
 * unicast space `2000::/3`). The most specific row that holds an address
 * gives its kind; an address in no row is `public`. Every row is special,
 * including those the registry marks globally reachable (anycast service
 * addresses such as PCP's `192.0.0.9`, often answered by the local router):
 * none is a destination a process needs without a grant naming it. The
 * exceptions are the blocks that carry IPv4 addresses — the NAT64 prefixes
 * `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`
 * (its client address obfuscated), IPv4-compatible `::/96` and
 * IPv4-translated `::ffff:0:0:0/96`: each embedded IPv4 address is classified
 * too, and the address is special if the block or any embedded address is
 * (the embedded kind is the one reported, since that is where the packet
 * goes). So `::ffff:0:7f00:1` is loopback, like `127.0.0.1`.
 *
 * Kinds: `loopback`, `unspecified`, `link-local`, `private` (RFC 1918, unique
 * local, site-local, local-use NAT64), `shared` (100.64/10), `documentation`,
 * `benchmark`, `multicast`, `broadcast`, `reserved` (every other special
 * block), `public` (everything else), and `name` for a host name still to be
 * resolved (`localhost` and `*.localhost` are loopback by name). Anything not
 * `public` and not `name` is special, so a rule for special addresses fails
 * safe when a kind is added.
 *
 * @module
 */

/** What kind of place a host names: every kind but `public` and `name` is special. */
export type HostKind =
  | "loopback"
  | "private"
  | "link-local"
  | "unspecified"
  | "shared"
  | "documentation"
  | "benchmark"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "public"
  | "name";

/** The kind of a special address. */
export type SpecialKind = Exclude<HostKind, "public" | "name">;

/**
 * Where an IPv6 block carries IPv4 addresses: in its last 32 bits (RFC 6052
 * NAT64 /96, IPv4-compatible, IPv4-mapped and IPv4-translated), in bits
 * 16–47 (6to4, RFC 3056 §2), or Teredo's server in bits 32–63 and its client,
 * inverted, in the last 32 (RFC 4380 §4).
 */
export type Embedding = "last32" | "6to4" | "teredo";

/** One row of a special-purpose address table. */
export interface SpecialBlock {
  /** The block in CIDR notation (no host bits set). */
  block: string;
  /** Its name in the registry. */
  name: string;
  /** The documents that define it. */
  rfc: string;
  /**
   * The kind of an address in the block; null for a block that is only as
   * special as the IPv4 addresses it embeds.
   */
  kind: SpecialKind | null;
  /** Where the block embeds IPv4 addresses, classified too. */
  embeds?: Embedding;
}

/**
 * The IANA IPv4 Special-Purpose Address Registry (as updated 2025), then
 * multicast from the IPv4 Multicast Address Space registry.
 */
export const IPV4_SPECIAL: readonly SpecialBlock[] = [
  { block: "0.0.0.0/8", name: '"This network"', rfc: "RFC 791 §3.2", kind: "unspecified" },
  {
    block: "0.0.0.0/32",
    name: '"This host on this network"',
    rfc: "RFC 1122 §3.2.1.3",
    kind: "unspecified",
  },
  { block: "10.0.0.0/8", name: "Private-Use", rfc: "RFC 1918", kind: "private" },
  { block: "100.64.0.0/10", name: "Shared Address Space", rfc: "RFC 6598", kind: "shared" },
  { block: "127.0.0.0/8", name: "Loopback", rfc: "RFC 1122 §3.2.1.3", kind: "loopback" },
  { block: "169.254.0.0/16", name: "Link Local", rfc: "RFC 3927", kind: "link-local" },
  { block: "172.16.0.0/12", name: "Private-Use", rfc: "RFC 1918", kind: "private" },
  {
    block: "192.0.0.0/24",
    name: "IETF Protocol Assignments",
    rfc: "RFC 6890 §2.1",
    kind: "reserved",
  },
  {
    block: "192.0.0.0/29",
    name: "IPv4 Service Continuity Prefix",
    rfc: "RFC 7335",
    kind: "reserved",
  },
  { block: "192.0.0.8/32", name: "IPv4 dummy address", rfc: "RFC 7600", kind: "reserved" },
  {
    block: "192.0.0.9/32",
    name: "Port Control Protocol Anycast",
    rfc: "RFC 7723",
    kind: "reserved",
  },
  {
    block: "192.0.0.10/32",
    name: "Traversal Using Relays around NAT Anycast",
    rfc: "RFC 8155",
    kind: "reserved",
  },
  {
    block: "192.0.0.170/32",
    name: "NAT64/DNS64 Discovery",
    rfc: "RFC 8880, RFC 7050 §2.2",
    kind: "reserved",
  },
  {
    block: "192.0.0.171/32",
    name: "NAT64/DNS64 Discovery",
    rfc: "RFC 8880, RFC 7050 §2.2",
    kind: "reserved",
  },
  {
    block: "192.0.2.0/24",
    name: "Documentation (TEST-NET-1)",
    rfc: "RFC 5737",
    kind: "documentation",
  },
  { block: "192.31.196.0/24", name: "AS112-v4", rfc: "RFC 7535", kind: "reserved" },
  { block: "192.52.193.0/24", name: "AMT", rfc: "RFC 7450", kind: "reserved" },
  {
    block: "192.88.99.0/24",
    name: "Deprecated (6to4 Relay Anycast)",
    rfc: "RFC 7526",
    kind: "reserved",
  },
  {
    block: "192.88.99.2/32",
    name: "6a44-relay anycast address",
    rfc: "RFC 6751",
    kind: "reserved",
  },
  { block: "192.168.0.0/16", name: "Private-Use", rfc: "RFC 1918", kind: "private" },
  {
    block: "192.175.48.0/24",
    name: "Direct Delegation AS112 Service",
    rfc: "RFC 7534",
    kind: "reserved",
  },
  { block: "198.18.0.0/15", name: "Benchmarking", rfc: "RFC 2544", kind: "benchmark" },
  {
    block: "198.51.100.0/24",
    name: "Documentation (TEST-NET-2)",
    rfc: "RFC 5737",
    kind: "documentation",
  },
  {
    block: "203.0.113.0/24",
    name: "Documentation (TEST-NET-3)",
    rfc: "RFC 5737",
    kind: "documentation",
  },
  { block: "240.0.0.0/4", name: "Reserved", rfc: "RFC 1112 §4", kind: "reserved" },
  {
    block: "255.255.255.255/32",
    name: "Limited Broadcast",
    rfc: "RFC 8190, RFC 919 §7",
    kind: "broadcast",
  },
  // Not in the special-purpose registry: the IPv4 Multicast Address Space registry.
  { block: "224.0.0.0/4", name: "Multicast", rfc: "RFC 5771", kind: "multicast" },
];

/**
 * The IANA IPv6 Special-Purpose Address Registry (as updated 2025), then the
 * blocks the IPv6 Address Space registry and the addressing architecture set
 * apart: everything outside global unicast `2000::/3`, site-local, multicast,
 * and the deprecated IPv4-compatible and IPv4-translated forms.
 */
export const IPV6_SPECIAL: readonly SpecialBlock[] = [
  { block: "::1/128", name: "Loopback Address", rfc: "RFC 4291", kind: "loopback" },
  { block: "::/128", name: "Unspecified Address", rfc: "RFC 4291", kind: "unspecified" },
  {
    block: "::ffff:0:0/96",
    name: "IPv4-mapped Address",
    rfc: "RFC 4291",
    kind: null,
    embeds: "last32",
  },
  {
    block: "64:ff9b::/96",
    name: "IPv4-IPv6 Translat.",
    rfc: "RFC 6052",
    kind: null,
    embeds: "last32",
  },
  {
    block: "64:ff9b:1::/48",
    name: "IPv4-IPv6 Translat. (local use)",
    rfc: "RFC 8215",
    kind: "private",
    embeds: "last32",
  },
  { block: "100::/64", name: "Discard-Only Address Block", rfc: "RFC 6666", kind: "reserved" },
  { block: "100:0:0:1::/64", name: "Dummy IPv6 Prefix", rfc: "RFC 9780", kind: "reserved" },
  { block: "2001::/23", name: "IETF Protocol Assignments", rfc: "RFC 2928", kind: "reserved" },
  { block: "2001::/32", name: "TEREDO", rfc: "RFC 4380, RFC 8190", kind: null, embeds: "teredo" },
  {
    block: "2001:1::1/128",
    name: "Port Control Protocol Anycast",
    rfc: "RFC 7723",
    kind: "reserved",
  },
  {
    block: "2001:1::2/128",
    name: "Traversal Using Relays around NAT Anycast",
    rfc: "RFC 8155",
    kind: "reserved",
  },
  {
    block: "2001:1::3/128",
    name: "DNS-SD Service Registration Protocol Anycast",
    rfc: "RFC 9665",
    kind: "reserved",
  },
  { block: "2001:2::/48", name: "Benchmarking", rfc: "RFC 5180", kind: "benchmark" },
  { block: "2001:3::/32", name: "AMT", rfc: "RFC 7450", kind: "reserved" },
  { block: "2001:4:112::/48", name: "AS112-v6", rfc: "RFC 7535", kind: "reserved" },
  {
    block: "2001:10::/28",
    name: "Deprecated (previously ORCHID)",
    rfc: "RFC 4843",
    kind: "reserved",
  },
  { block: "2001:20::/28", name: "ORCHIDv2", rfc: "RFC 7343", kind: "reserved" },
  {
    block: "2001:30::/28",
    name: "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
    rfc: "RFC 9374",
    kind: "reserved",
  },
  { block: "2001:db8::/32", name: "Documentation", rfc: "RFC 3849", kind: "documentation" },
  { block: "2002::/16", name: "6to4", rfc: "RFC 3056", kind: null, embeds: "6to4" },
  {
    block: "2620:4f:8000::/48",
    name: "Direct Delegation AS112 Service",
    rfc: "RFC 7534",
    kind: "reserved",
  },
  { block: "3fff::/20", name: "Documentation", rfc: "RFC 9637", kind: "documentation" },
  { block: "5f00::/16", name: "Segment Routing (SRv6) SIDs", rfc: "RFC 9602", kind: "reserved" },
  { block: "fc00::/7", name: "Unique-Local", rfc: "RFC 4193, RFC 8190", kind: "private" },
  { block: "fe80::/10", name: "Link-Local Unicast", rfc: "RFC 4291", kind: "link-local" },
  // Not in the special-purpose registry.
  {
    block: "::/96",
    name: "IPv4-compatible (deprecated)",
    rfc: "RFC 4291 §2.5.5.1",
    kind: "reserved",
    embeds: "last32",
  },
  {
    block: "::ffff:0:0:0/96",
    name: "IPv4-translated (SIIT)",
    rfc: "RFC 2765 §2.1",
    kind: "reserved",
    embeds: "last32",
  },
  { block: "fec0::/10", name: "Site-local (deprecated)", rfc: "RFC 3879", kind: "private" },
  { block: "ff00::/8", name: "Multicast", rfc: "RFC 4291 §2.7", kind: "multicast" },
  // Outside global unicast 2000::/3: reserved by the IETF or not routed globally.
  { block: "::/3", name: "Not global unicast", rfc: "RFC 4291 §2.4", kind: "reserved" },
  { block: "4000::/2", name: "Not global unicast", rfc: "RFC 4291 §2.4", kind: "reserved" },
  { block: "8000::/1", name: "Not global unicast", rfc: "RFC 4291 §2.4", kind: "reserved" },
];

/** The classification of one host. */
export interface HostClass {
  /** The kind of place. */
  kind: HostKind;
  /**
   * The address in canonical form (IPv4 dotted decimal, IPv6 compressed
   * without brackets) for an IP literal; null for a name (including
   * `localhost`, which is loopback by name).
   */
  address: string | null;
}

/**
 * Classifies a host: an IP literal in any spelling, a bracketed or bare IPv6
 * literal, or a name. Throws a TypeError for a host that is neither (empty,
 * a malformed literal, forbidden characters).
 */
export function classifyHost(host: string): HostClass {
  const parsed = _parseHost(host);
  switch (parsed.type) {
    case "ipv4":
      return { kind: _classifyIPv4(parsed.value), address: _formatIPv4(parsed.value) };
    case "ipv6":
      return { kind: _classifyIPv6(parsed.value), address: _formatIPv6(parsed.value) };
    case "name":
      return { kind: _isLocalhost(parsed.value) ? "loopback" : "name", address: null };
  }
}

/**
 * The canonical string a `net:` grant is matched against: lower case, IPv4 in
 * dotted decimal, IPv6 compressed (RFC 5952 zero-run rules, as the URL
 * standard serialises it) without brackets, an IPv4-mapped IPv6 address as
 * its IPv4 address, a name without its trailing dot and in its ASCII
 * (punycode) form. A `*` in a name is kept, so grant patterns normalise too.
 * Throws a TypeError for an invalid host.
 */
export function normalizeHost(host: string): string {
  const parsed = _parseHost(host);
  switch (parsed.type) {
    case "ipv4":
      return _formatIPv4(parsed.value);
    case "ipv6":
      return _formatIPv6(parsed.value);
    case "name":
      return parsed.value;
  }
}

type _Parsed =
  | { type: "ipv4"; value: number }
  | { type: "ipv6"; value: Uint16Array }
  | { type: "name"; value: string };

function _invalid(host: string, reason: string): TypeError {
  return new TypeError(`Cannot parse host '${host}': ${reason}`);
}

function _parseHost(input: string): _Parsed {
  if (typeof input !== "string" || input === "") throw _invalid(String(input), "it is empty");
  let host = input;
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) throw _invalid(input, "an opening bracket without a closing one");
    host = host.slice(1, -1);
    const v6 = _parseIPv6(host);
    if (v6 === null) throw _invalid(input, "not an IPv6 address");
    return _unmap(v6);
  }
  if (host.includes(":")) {
    const v6 = _parseIPv6(host);
    if (v6 === null) throw _invalid(input, "not an IPv6 address");
    return _unmap(v6);
  }
  if (!/^[A-Za-z0-9._*-]+$/.test(host)) host = _toAscii(input);
  host = host.toLowerCase();
  if (_endsInNumber(host)) {
    const v4 = _parseIPv4(host);
    if (v4 === null) {
      throw _invalid(input, "its last label is numeric but it is not an IPv4 address");
    }
    return { type: "ipv4", value: v4 };
  }
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name === "" || name.split(".").some((label) => label === "")) {
    throw _invalid(input, "a name with an empty label");
  }
  if (name.split(".").some((label) => label.length > 63) || name.length > 253) {
    throw _invalid(input, "a name longer than DNS allows");
  }
  return { type: "name", value: name };
}

/** Non-ASCII or percent-encoded hosts go through the URL standard's host parser (IDNA, percent-decoding). */
function _toAscii(input: string): string {
  // Forbidden host code points of the URL standard: the URL parser would read them as
  // the end of the host (or as userinfo) instead of refusing them.
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0020#/:<>?@[\\\]^|%\u007f]/.test(input.replace(/%[0-9a-f]{2}/gi, ""))) {
    throw _invalid(input, "forbidden characters");
  }
  let hostname: string;
  try {
    hostname = new URL(`http://${input}/`).hostname;
  } catch {
    throw _invalid(input, "forbidden characters");
  }
  // Percent-decoding may have produced an IPv4 spelling: the caller parses the result.
  if (!/^[a-z0-9._*-]+$/.test(hostname)) throw _invalid(input, "forbidden characters");
  return hostname;
}

function _isLocalhost(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost");
}

/** The URL standard's "ends in a number" test. */
function _endsInNumber(host: string): boolean {
  const labels = host.split(".");
  if (labels[labels.length - 1] === "") {
    if (labels.length === 1) return false;
    labels.pop();
  }
  const last = labels[labels.length - 1] ?? "";
  if (last !== "" && /^[0-9]+$/.test(last)) return true;
  return /^0x[0-9a-f]*$/i.test(last);
}

/** Parses an IPv4 host in any spelling the URL standard accepts; null if it is none. */
function _parseIPv4(host: string): number | null {
  const parts = host.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  if (parts.length > 4 || parts.length === 0) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = _parseIPv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() ?? 0;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (5 - parts.length)) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return value;
}

function _parseIPv4Number(part: string): number | null {
  if (part === "") return null;
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(digits)) {
    digits = digits.slice(2);
    radix = 16;
  } else if (digits.length > 1 && digits.startsWith("0")) {
    digits = digits.slice(1);
    radix = 8;
  }
  if (digits === "") return 0;
  const pattern = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!pattern.test(digits)) return null;
  // Longer than any valid part: avoid precision loss, it fails the range check anyway.
  if (digits.replace(/^0+/, "").length > 12) return Number.POSITIVE_INFINITY;
  return parseInt(digits, radix);
}

/** Parses an IPv6 address (no brackets) into eight 16-bit pieces; null if it is none. */
function _parseIPv6(text: string): Uint16Array | null {
  if (text.includes("%")) return null;
  const pieces = new Uint16Array(8);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = _parseIPv6Groups(halves[0] ?? "", halves.length === 1);
  if (head === null) return null;
  if (halves.length === 1) {
    if (head.length !== 8) return null;
    pieces.set(head);
    return pieces;
  }
  const tail = _parseIPv6Groups(halves[1] ?? "", true);
  if (tail === null) return null;
  if (head.length + tail.length > 7) return null;
  pieces.set(head, 0);
  pieces.set(tail, 8 - tail.length);
  return pieces;
}

/** Colon-separated groups; the last may be a dotted IPv4 tail when `tailAllowed`. */
function _parseIPv6Groups(text: string, tailAllowed: boolean): number[] | null {
  if (text === "") return [];
  const groups = text.split(":");
  const out: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i] ?? "";
    if (tailAllowed && i === groups.length - 1 && group.includes(".")) {
      const v4 = _parseDottedQuad(group);
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
      continue;
    }
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    out.push(parseInt(group, 16));
  }
  return out;
}

/** The strict dotted-decimal IPv4 an IPv6 address may end with. */
function _parseDottedQuad(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is that IPv4 address. */
function _unmap(pieces: Uint16Array): _Parsed {
  const mapped = pieces.subarray(0, 5).every((p) => p === 0) && pieces[5] === 0xffff;
  if (mapped) return { type: "ipv4", value: _embeddedIPv4(pieces, 6) };
  return { type: "ipv6", value: pieces };
}

function _embeddedIPv4(pieces: Uint16Array, at: number): number {
  return (pieces[at] ?? 0) * 0x10000 + (pieces[at + 1] ?? 0);
}

function _formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** RFC 5952: lower-case hex, no leading zeros, the first longest run of two or more zero groups as "::". */
function _formatIPv6(pieces: Uint16Array): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (pieces[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && pieces[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    Array.from(pieces.subarray(from, to), (p) => p.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

interface _Block4 {
  start: number;
  size: number;
  bits: number;
  row: SpecialBlock;
}

interface _Block6 {
  base: Uint16Array;
  bits: number;
  row: SpecialBlock;
}

function _badBlock(row: SpecialBlock): TypeError {
  return new TypeError(`Cannot read special block '${row.block}': not a CIDR block`);
}

function _compile4(rows: readonly SpecialBlock[]): _Block4[] {
  return rows.map((row) => {
    const [base = "", bits = ""] = row.block.split("/");
    const start = _parseDottedQuad(base);
    const n = Number(bits);
    if (start === null || !/^\d+$/.test(bits) || n > 32) throw _badBlock(row);
    const size = 2 ** (32 - n);
    if (start % size !== 0) throw _badBlock(row);
    return { start, size, bits: n, row };
  });
}

function _compile6(rows: readonly SpecialBlock[]): _Block6[] {
  return rows.map((row) => {
    const [text = "", bits = ""] = row.block.split("/");
    const base = _parseIPv6(text);
    const n = Number(bits);
    if (base === null || !/^\d+$/.test(bits) || n > 128) throw _badBlock(row);
    if (!_hostBitsZero(base, n)) throw _badBlock(row);
    return { base, bits: n, row };
  });
}

function _hostBitsZero(pieces: Uint16Array, bits: number): boolean {
  const masked = new Uint16Array(8);
  for (let i = 0; i < 8; i++) masked[i] = (pieces[i] ?? 0) & _mask16(bits - 16 * i);
  return masked.every((p, i) => p === pieces[i]);
}

/** The mask of the first `bits` bits of a 16-bit piece (0 and 16 clamp). */
function _mask16(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 16) return 0xffff;
  return (0xffff << (16 - bits)) & 0xffff;
}

function _inV6(pieces: Uint16Array, base: Uint16Array, bits: number): boolean {
  for (let i = 0; i < 8 && 16 * i < bits; i++) {
    const mask = _mask16(bits - 16 * i);
    if ((((pieces[i] ?? 0) ^ (base[i] ?? 0)) & mask) !== 0) return false;
  }
  return true;
}

const _V4_BLOCKS = _compile4(IPV4_SPECIAL);
const _V6_BLOCKS = _compile6(IPV6_SPECIAL);

/** The most specific row holding an IPv4 address, or null. */
function _rowOf4(value: number): SpecialBlock | null {
  let best: _Block4 | null = null;
  for (const b of _V4_BLOCKS) {
    if (value >= b.start && value < b.start + b.size && (best === null || b.bits > best.bits)) {
      best = b;
    }
  }
  return best?.row ?? null;
}

/** The most specific row holding an IPv6 address, or null. */
function _rowOf6(pieces: Uint16Array): SpecialBlock | null {
  let best: _Block6 | null = null;
  for (const b of _V6_BLOCKS) {
    if (_inV6(pieces, b.base, b.bits) && (best === null || b.bits > best.bits)) best = b;
  }
  return best?.row ?? null;
}

/** The IPv4 addresses an IPv6 address embeds, by its block's layout. */
function _embedded(pieces: Uint16Array, how: Embedding | undefined): number[] {
  switch (how) {
    case undefined:
      return [];
    case "last32":
      return [_embeddedIPv4(pieces, 6)];
    case "6to4":
      return [_embeddedIPv4(pieces, 1)];
    case "teredo":
      // Server in bits 32–63; the client's address is stored with every bit inverted.
      return [_embeddedIPv4(pieces, 2), 0xffffffff - _embeddedIPv4(pieces, 6)];
  }
}

function _classifyIPv4(value: number): HostKind {
  return _rowOf4(value)?.kind ?? "public";
}

function _classifyIPv6(pieces: Uint16Array): HostKind {
  const row = _rowOf6(pieces);
  if (row === null) return "public";
  for (const v4 of _embedded(pieces, row.embeds)) {
    const kind = _classifyIPv4(v4);
    if (kind !== "public") return kind;
  }
  return row.kind ?? "public";
}
