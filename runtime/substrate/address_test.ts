import assert from "node:assert/strict";
import { classifyHost, type HostKind, normalizeHost } from "./address.ts";

/** [spelling, kind, canonical form] */
const TABLE: Array<[string, HostKind, string]> = [
  // IPv4 loopback in every spelling.
  ["127.0.0.1", "loopback", "127.0.0.1"],
  ["2130706433", "loopback", "127.0.0.1"],
  ["0x7f000001", "loopback", "127.0.0.1"],
  ["0X7F000001", "loopback", "127.0.0.1"],
  ["0x7f.0.0.1", "loopback", "127.0.0.1"],
  ["0x7f.0x0.0x0.0x1", "loopback", "127.0.0.1"],
  ["0177.0.0.1", "loopback", "127.0.0.1"],
  ["017700000001", "loopback", "127.0.0.1"],
  ["127.1", "loopback", "127.0.0.1"],
  ["127.0.1", "loopback", "127.0.0.1"],
  ["127.0.0.1.", "loopback", "127.0.0.1"],
  ["127.255.255.254", "loopback", "127.255.255.254"],
  ["%31%32%37.0.0.1", "loopback", "127.0.0.1"],
  // IPv6 loopback, mapped and brackets.
  ["::1", "loopback", "::1"],
  ["[::1]", "loopback", "::1"],
  ["0:0:0:0:0:0:0:1", "loopback", "::1"],
  ["::ffff:127.0.0.1", "loopback", "127.0.0.1"],
  ["[::ffff:127.0.0.1]", "loopback", "127.0.0.1"],
  ["::ffff:7f00:1", "loopback", "127.0.0.1"],
  ["0:0:0:0:0:FFFF:7F00:0001", "loopback", "127.0.0.1"],
  ["::ffff:10.1.2.3", "private", "10.1.2.3"],
  // Names that are loopback by name.
  ["localhost", "loopback", "localhost"],
  ["LocalHost", "loopback", "localhost"],
  ["localhost.", "loopback", "localhost"],
  ["api.localhost", "loopback", "api.localhost"],
  // Unspecified.
  ["0.0.0.0", "unspecified", "0.0.0.0"],
  ["0", "unspecified", "0.0.0.0"],
  ["0x0", "unspecified", "0.0.0.0"],
  ["0.1.2.3", "unspecified", "0.1.2.3"],
  ["::", "unspecified", "::"],
  ["[::]", "unspecified", "::"],
  ["::ffff:0.0.0.0", "unspecified", "0.0.0.0"],
  // Private ranges with their edges.
  ["10.0.0.1", "private", "10.0.0.1"],
  ["167772161", "private", "10.0.0.1"],
  ["10.255.255.255", "private", "10.255.255.255"],
  ["172.16.0.1", "private", "172.16.0.1"],
  ["172.31.255.255", "private", "172.31.255.255"],
  ["172.15.255.255", "public", "172.15.255.255"],
  ["172.32.0.0", "public", "172.32.0.0"],
  ["192.168.1.1", "private", "192.168.1.1"],
  ["0xc0a80101", "private", "192.168.1.1"],
  ["100.64.0.1", "private", "100.64.0.1"],
  ["100.127.255.255", "private", "100.127.255.255"],
  ["100.128.0.0", "public", "100.128.0.0"],
  ["224.0.0.1", "private", "224.0.0.1"],
  ["255.255.255.255", "private", "255.255.255.255"],
  ["4294967295", "private", "255.255.255.255"],
  ["fc00::1", "private", "fc00::1"],
  ["fd12:3456::1", "private", "fd12:3456::1"],
  ["[FD00::ABCD]", "private", "fd00::abcd"],
  ["ff02::1", "private", "ff02::1"],
  ["::127.0.0.1", "private", "::7f00:1"],
  ["64:ff9b::7f00:1", "private", "64:ff9b::7f00:1"],
  ["2002:7f00:1::", "private", "2002:7f00:1::"],
  ["2001:db8::1", "private", "2001:db8::1"],
  // Link-local.
  ["169.254.169.254", "link-local", "169.254.169.254"],
  ["0xa9fea9fe", "link-local", "169.254.169.254"],
  ["fe80::1", "link-local", "fe80::1"],
  ["[fe80::abcd:1]", "link-local", "fe80::abcd:1"],
  ["febf::1", "link-local", "febf::1"],
  ["::ffff:169.254.169.254", "link-local", "169.254.169.254"],
  // Public.
  ["8.8.8.8", "public", "8.8.8.8"],
  ["134744072", "public", "8.8.8.8"],
  ["1.1", "public", "1.0.0.1"],
  ["2606:4700:4700::1111", "public", "2606:4700:4700::1111"],
  ["2001:0db9:0000:0000:0001:0000:0000:0001", "public", "2001:db9::1:0:0:1"],
  ["1:0:0:1:0:0:0:1", "public", "1:0:0:1::1"],
  ["64:ff9b::808:808", "public", "64:ff9b::808:808"],
  ["2002:808:808::", "public", "2002:808:808::"],
  // Names.
  ["example.com", "name", "example.com"],
  ["Example.COM.", "name", "example.com"],
  ["*.example.com", "name", "*.example.com"],
  ["a_b.example", "name", "a_b.example"],
  ["bücher.de", "name", "xn--bcher-kva.de"],
  ["localhost.example.com", "name", "localhost.example.com"],
  ["0x7f.example", "name", "0x7f.example"],
  ["0x1g", "name", "0x1g"],
];

Deno.test("classifyHost and normalizeHost agree with the table for every spelling", () => {
  const got = TABLE.map(([host]) => {
    const c = classifyHost(host);
    return [host, c.kind, normalizeHost(host)];
  });
  assert.deepEqual(got, TABLE);
});

Deno.test("classifyHost gives the canonical address of a literal and null for a name", () => {
  assert.deepEqual(classifyHost("0x7f.1"), { kind: "loopback", address: "127.0.0.1" });
  assert.deepEqual(classifyHost("[::ffff:7f00:1]"), { kind: "loopback", address: "127.0.0.1" });
  assert.deepEqual(classifyHost("FE80::0:1"), { kind: "link-local", address: "fe80::1" });
  assert.deepEqual(classifyHost("localhost"), { kind: "loopback", address: null });
  assert.deepEqual(classifyHost("example.org"), { kind: "name", address: null });
});

Deno.test("normalizeHost matches the URL standard's host serialisation for IP literals", () => {
  const literals = TABLE.map(([host]) => host).filter((host) => classifyHost(host).address !== null)
    // The URL standard writes a mapped address in IPv6 form; normalizeHost unmaps it on purpose.
    .filter((host) => !/ffff:/i.test(host));
  const ours = literals.map((host) => normalizeHost(host));
  const urls = literals.map((host) => {
    const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return new URL(`http://${bracketed}/`).hostname.replace(/^\[|\]$/g, "");
  });
  assert.deepEqual(ours, urls);
});

Deno.test("classifyHost refuses malformed hosts with a TypeError", () => {
  const bad = [
    "",
    "1.2.3.4.5",
    "256.1.1.1",
    "1.2.3.256",
    "127.16777216",
    "4294967296",
    "08.1.1.1",
    "example.123",
    "1..2",
    "a..b",
    ".",
    "[::1",
    "::1::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::1",
    "fe80::1%eth0",
    "[fe80::1%25eth0]",
    "::ffff:127.1",
    "::ffff:127.0.0.01",
    "exa mple.com",
    "a/b",
    "a?b",
    "a#b",
    "user@host",
    "a\\b",
    "a%zz",
    "tab\there",
    "host:80",
  ];
  const refused = bad.filter((host) => {
    try {
      classifyHost(host);
      return false;
    } catch (error) {
      return error instanceof TypeError && /^Cannot parse host /.test(error.message);
    }
  });
  assert.deepEqual(refused, bad);
});
