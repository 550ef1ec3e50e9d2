/**
 * Network addresses in any spelling: what kind of place a host names
 * (loopback, private, link-local, unspecified, public, or a name still to be
 * resolved), and the one canonical string a `net:` grant is matched against.
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
 * Kinds (anything not globally reachable is never "public", so a rule for
 * special addresses fails safe):
 *
 * | kind          | IPv4                                   | IPv6                          |
 * | ------------- | -------------------------------------- | ----------------------------- |
 * | loopback      | 127/8, `localhost`, `*.localhost`      | ::1                           |
 * | unspecified   | 0/8 (0.0.0.0 and "this network")       | ::                            |
 * | link-local    | 169.254/16                             | fe80::/10                     |
 * | private       | 10/8, 172.16/12, 192.168/16, 100.64/10 | fc00::/7                      |
 * | private (other non-global ranges) | 192.0.0/24, the documentation nets 192.0.2/24, 198.51.100/24, 203.0.113/24, benchmarking 198.18/15, multicast 224/4, reserved 240/4 and broadcast | fec0::/10, ff00::/8, 100::/64, 2001:db8::/32, 64:ff9b:1::/48, IPv4-compatible ::/96, and NAT64 64:ff9b::/96 or 6to4 2002::/16 embedding a non-public IPv4 |
 * | public        | everything else                        | everything else               |
 * | name          | any other host name (to be resolved)   |                               |
 *
 * @module
 */

/** What kind of place a host names. */
export type HostKind = "loopback" | "private" | "link-local" | "unspecified" | "public" | "name";

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

function _inV4(value: number, base: string, bits: number): boolean {
  const start = _parseDottedQuad(base) ?? 0;
  const size = 2 ** (32 - bits);
  return value >= start && value < start + size;
}

function _classifyIPv4(value: number): HostKind {
  if (_inV4(value, "0.0.0.0", 8)) return "unspecified";
  if (_inV4(value, "127.0.0.0", 8)) return "loopback";
  if (_inV4(value, "169.254.0.0", 16)) return "link-local";
  const privateNets: Array<[string, number]> = [
    ["10.0.0.0", 8],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
    ["100.64.0.0", 10],
    // Not globally reachable either (IANA special-purpose registry).
    ["192.0.0.0", 24],
    ["192.0.2.0", 24],
    ["198.18.0.0", 15],
    ["198.51.100.0", 24],
    ["203.0.113.0", 24],
    ["224.0.0.0", 4],
    ["240.0.0.0", 4],
  ];
  return privateNets.some(([base, bits]) => _inV4(value, base, bits)) ? "private" : "public";
}

function _classifyIPv6(p: Uint16Array): HostKind {
  const zeroUpTo = (n: number) => p.subarray(0, n).every((x) => x === 0);
  const p0 = p[0] ?? 0;
  if (zeroUpTo(8)) return "unspecified";
  if (zeroUpTo(7) && p[7] === 1) return "loopback";
  if ((p0 & 0xffc0) === 0xfe80) return "link-local";
  if ((p0 & 0xfe00) === 0xfc00) return "private";
  if ((p0 & 0xffc0) === 0xfec0) return "private"; // site-local (deprecated)
  if ((p0 & 0xff00) === 0xff00) return "private"; // multicast
  if (zeroUpTo(6)) return "private"; // IPv4-compatible (deprecated)
  if (p0 === 0x0100 && p[1] === 0 && p[2] === 0 && p[3] === 0) return "private"; // discard
  if (p0 === 0x2001 && p[1] === 0x0db8) return "private"; // documentation
  if (p0 === 0x0064 && p[1] === 0xff9b && p[2] === 0x0001) return "private"; // local-use NAT64
  if (p0 === 0x0064 && p[1] === 0xff9b && p.subarray(2, 6).every((x) => x === 0)) {
    return _classifyIPv4(_embeddedIPv4(p, 6)) === "public" ? "public" : "private"; // NAT64
  }
  if (p0 === 0x2002) {
    return _classifyIPv4(_embeddedIPv4(p, 1)) === "public" ? "public" : "private"; // 6to4
  }
  return "public";
}
