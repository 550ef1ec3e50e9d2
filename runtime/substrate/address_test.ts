import assert from "node:assert/strict";
import {
  classifyHost,
  type HostKind,
  IPV4_SPECIAL,
  IPV6_SPECIAL,
  normalizeHost,
} from "./address.ts";

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
  ["100.64.0.1", "shared", "100.64.0.1"],
  ["100.127.255.255", "shared", "100.127.255.255"],
  ["100.128.0.0", "public", "100.128.0.0"],
  ["224.0.0.1", "multicast", "224.0.0.1"],
  ["255.255.255.255", "broadcast", "255.255.255.255"],
  ["4294967295", "broadcast", "255.255.255.255"],
  ["fc00::1", "private", "fc00::1"],
  ["fd12:3456::1", "private", "fd12:3456::1"],
  ["[FD00::ABCD]", "private", "fd00::abcd"],
  ["ff02::1", "multicast", "ff02::1"],
  ["::127.0.0.1", "loopback", "::7f00:1"],
  ["64:ff9b::7f00:1", "loopback", "64:ff9b::7f00:1"],
  ["2002:7f00:1::", "loopback", "2002:7f00:1::"],
  ["2001:db8::1", "documentation", "2001:db8::1"],
  // IPv4-translated (the red team's spelling of 127.0.0.1) stays IPv6 but is classed by its IPv4.
  ["::ffff:0:7f00:1", "loopback", "::ffff:0:7f00:1"],
  ["[::ffff:0:127.0.0.1]", "loopback", "::ffff:0:7f00:1"],
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
  ["1:0:0:1:0:0:0:1", "reserved", "1:0:0:1::1"],
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

/**
 * Each registry row with an address inside it and its edges: the first and
 * last addresses of the block, and the neighbours just outside where they
 * are not in another special block. [block, [address, kind]...]
 */
const REGISTRY_CASES: Array<[string, Array<[string, HostKind]>]> = [
  // IPv4 special-purpose registry.
  ["0.0.0.0/8", [["0.1.2.3", "unspecified"], ["0.255.255.255", "unspecified"], [
    "1.0.0.0",
    "public",
  ]]],
  ["0.0.0.0/32", [["0.0.0.0", "unspecified"]]],
  ["10.0.0.0/8", [
    ["10.1.2.3", "private"],
    ["10.0.0.0", "private"],
    [
      "10.255.255.255",
      "private",
    ],
    ["9.255.255.255", "public"],
    ["11.0.0.0", "public"],
  ]],
  ["100.64.0.0/10", [
    ["100.100.1.1", "shared"],
    ["100.64.0.0", "shared"],
    [
      "100.127.255.255",
      "shared",
    ],
    ["100.63.255.255", "public"],
    ["100.128.0.0", "public"],
  ]],
  ["127.0.0.0/8", [["127.0.0.1", "loopback"], ["127.255.255.255", "loopback"], [
    "126.255.255.255",
    "public",
  ], ["128.0.0.0", "public"]]],
  ["169.254.0.0/16", [["169.254.169.254", "link-local"], ["169.254.255.255", "link-local"], [
    "169.253.255.255",
    "public",
  ], ["169.255.0.0", "public"]]],
  ["172.16.0.0/12", [
    ["172.20.1.1", "private"],
    ["172.16.0.0", "private"],
    [
      "172.31.255.255",
      "private",
    ],
    ["172.15.255.255", "public"],
    ["172.32.0.0", "public"],
  ]],
  ["192.0.0.0/24", [["192.0.0.100", "reserved"], ["192.0.0.255", "reserved"], [
    "191.255.255.255",
    "public",
  ], ["192.0.1.0", "public"]]],
  ["192.0.0.0/29", [["192.0.0.1", "reserved"], ["192.0.0.7", "reserved"]]],
  ["192.0.0.8/32", [["192.0.0.8", "reserved"]]],
  ["192.0.0.9/32", [["192.0.0.9", "reserved"]]],
  ["192.0.0.10/32", [["192.0.0.10", "reserved"]]],
  ["192.0.0.170/32", [["192.0.0.170", "reserved"]]],
  ["192.0.0.171/32", [["192.0.0.171", "reserved"]]],
  ["192.0.2.0/24", [["192.0.2.1", "documentation"], ["192.0.2.255", "documentation"], [
    "192.0.3.0",
    "public",
  ]]],
  ["192.31.196.0/24", [["192.31.196.1", "reserved"], ["192.31.196.255", "reserved"], [
    "192.31.195.255",
    "public",
  ], ["192.31.197.0", "public"]]],
  ["192.52.193.0/24", [["192.52.193.1", "reserved"], ["192.52.193.255", "reserved"], [
    "192.52.192.255",
    "public",
  ], ["192.52.194.0", "public"]]],
  ["192.88.99.0/24", [["192.88.99.1", "reserved"], ["192.88.99.255", "reserved"], [
    "192.88.98.255",
    "public",
  ], ["192.88.100.0", "public"]]],
  ["192.88.99.2/32", [["192.88.99.2", "reserved"]]],
  ["192.168.0.0/16", [["192.168.1.1", "private"], ["192.168.255.255", "private"], [
    "192.167.255.255",
    "public",
  ], ["192.169.0.0", "public"]]],
  ["192.175.48.0/24", [["192.175.48.1", "reserved"], ["192.175.48.255", "reserved"], [
    "192.175.47.255",
    "public",
  ], ["192.175.49.0", "public"]]],
  ["198.18.0.0/15", [["198.18.0.1", "benchmark"], ["198.19.255.255", "benchmark"], [
    "198.17.255.255",
    "public",
  ], ["198.20.0.0", "public"]]],
  ["198.51.100.0/24", [["198.51.100.7", "documentation"], ["198.51.100.255", "documentation"], [
    "198.51.99.255",
    "public",
  ], ["198.51.101.0", "public"]]],
  ["203.0.113.0/24", [["203.0.113.7", "documentation"], ["203.0.113.0", "documentation"], [
    "203.0.112.255",
    "public",
  ], ["203.0.114.0", "public"]]],
  ["240.0.0.0/4", [["240.0.0.1", "reserved"], ["255.255.255.254", "reserved"]]],
  ["255.255.255.255/32", [["255.255.255.255", "broadcast"]]],
  ["224.0.0.0/4", [["224.0.0.1", "multicast"], ["239.255.255.255", "multicast"], [
    "223.255.255.255",
    "public",
  ]]],
  // IPv6 special-purpose registry.
  ["::1/128", [["::1", "loopback"]]],
  ["::/128", [["::", "unspecified"]]],
  ["::ffff:0:0/96", [["::ffff:8.8.8.8", "public"], ["::ffff:127.0.0.1", "loopback"], [
    "::ffff:255.255.255.255",
    "broadcast",
  ]]],
  ["64:ff9b::/96", [
    ["64:ff9b::808:808", "public"],
    ["64:ff9b::7f00:1", "loopback"],
    [
      "64:ff9b::c0a8:101",
      "private",
    ],
    ["64:ff9b::ffff:ffff", "broadcast"],
    ["64:ff9b::1:808:808", "reserved"],
  ]],
  ["64:ff9b:1::/48", [["64:ff9b:1::808:808", "private"], ["64:ff9b:1::7f00:1", "loopback"], [
    "64:ff9b:1:ffff:ffff:ffff:808:808",
    "private",
  ]]],
  ["100::/64", [["100::1", "reserved"], ["100::ffff:ffff:ffff:ffff", "reserved"]]],
  ["100:0:0:1::/64", [["100:0:0:1::1", "reserved"], ["100:0:0:1:ffff:ffff:ffff:ffff", "reserved"]]],
  ["2001::/23", [["2001:100::1", "reserved"], [
    "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
    "reserved",
  ], [
    "2001:200::",
    "public",
  ]]],
  // Teredo: server 65.54.227.120, client 192.0.2.45 (RFC 4380's example), 8.8.8.8 and
  // 127.0.0.1 (each stored inverted); a loopback server.
  ["2001::/32", [
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation"],
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7", "public"],
    ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"],
    ["2001:0:7f00:1:8000:63bf:f7f7:f7f7", "loopback"],
    ["2001:0:a00:1:8000:63bf:f7f7:f7f7", "private"],
    ["2001:0:ffff:ffff:ffff:ffff:f7f7:f7f7", "broadcast"],
  ]],
  ["2001:1::1/128", [["2001:1::1", "reserved"]]],
  ["2001:1::2/128", [["2001:1::2", "reserved"]]],
  ["2001:1::3/128", [["2001:1::3", "reserved"]]],
  ["2001:2::/48", [["2001:2::1", "benchmark"], ["2001:2:0:ffff:ffff:ffff:ffff:ffff", "benchmark"], [
    "2001:2:1::",
    "reserved",
  ]]],
  ["2001:3::/32", [["2001:3::1", "reserved"], [
    "2001:3:ffff:ffff:ffff:ffff:ffff:ffff",
    "reserved",
  ]]],
  ["2001:4:112::/48", [["2001:4:112::1", "reserved"]]],
  ["2001:10::/28", [["2001:10::1", "reserved"], [
    "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff",
    "reserved",
  ]]],
  ["2001:20::/28", [["2001:20::1", "reserved"]]],
  ["2001:30::/28", [["2001:30::1", "reserved"]]],
  ["2001:db8::/32", [
    ["2001:db8::1", "documentation"],
    [
      "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
      "documentation",
    ],
    ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "public"],
    ["2001:db9::", "public"],
  ]],
  ["2002::/16", [
    ["2002:808:808::1", "public"],
    ["2002:7f00:1::", "loopback"],
    [
      "2002:a9fe:a9fe::",
      "link-local",
    ],
    ["2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "broadcast"],
    [
      "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "public",
    ],
    ["2003::1", "public"],
  ]],
  ["2620:4f:8000::/48", [["2620:4f:8000::1", "reserved"], ["2620:4f:8001::", "public"]]],
  ["3fff::/20", [["3fff::1", "documentation"], [
    "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
    "documentation",
  ], [
    "3fff:1000::",
    "public",
  ]]],
  ["5f00::/16", [["5f00::1", "reserved"], ["5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"]]],
  ["fc00::/7", [["fd12:3456::1", "private"], ["fc00::", "private"], [
    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "private",
  ]]],
  ["fe80::/10", [["fe80::1", "link-local"], [
    "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "link-local",
  ], [
    "fec0::",
    "private",
  ]]],
  // Outside that registry.
  ["::/96", [["::808:808", "reserved"], ["::7f00:1", "loopback"], ["::a00:1", "private"], [
    "::ffff:ffff",
    "broadcast",
  ]]],
  ["::ffff:0:0:0/96", [["::ffff:0:7f00:1", "loopback"], ["::ffff:0:808:808", "reserved"], [
    "::ffff:0:a9fe:a9fe",
    "link-local",
  ], ["::ffff:0:ffff:ffff", "broadcast"]]],
  ["fec0::/10", [["fec0::1", "private"], ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"]]],
  ["ff00::/8", [["ff02::1", "multicast"], [
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "multicast",
  ]]],
  ["::/3", [["1:0:0:1::1", "reserved"], ["1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"], [
    "2000::",
    "public",
  ]]],
  ["4000::/2", [["4000::1", "reserved"], ["7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved"], [
    "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "public",
  ]]],
  ["8000::/1", [["8000::1", "reserved"], ["fe00::", "reserved"]]],
];

Deno.test("every row of the special-purpose registries classifies an address inside it and its edges", () => {
  const rows = [...IPV4_SPECIAL, ...IPV6_SPECIAL].map((r) => r.block);
  assert.deepEqual(
    REGISTRY_CASES.map(([block]) => block).sort(),
    [...rows].sort(),
    "one case list per registry row",
  );
  const expected = REGISTRY_CASES.flatMap(([block, cases]) =>
    cases.map(([address, kind]) => [block, address, kind])
  );
  const got = expected.map(([block, address]) => [block, address, classifyHost(address!).kind]);
  assert.deepEqual(got, expected);
});

Deno.test("an address embedding an IPv4 address is special when the IPv4 address is, in every embedding form", () => {
  // 127.0.0.1 in every form that carries an IPv4 address.
  const loopback = [
    "::ffff:127.0.0.1", // IPv4-mapped
    "::ffff:0:7f00:1", // IPv4-translated
    "::127.0.0.1", // IPv4-compatible (deprecated)
    "64:ff9b::127.0.0.1", // NAT64 well-known prefix
    "64:ff9b:1::7f00:1", // NAT64 local-use prefix
    "2002:7f00:1::1", // 6to4
    "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo client (inverted)
    "2001:0:7f00:1::", // Teredo server
  ];
  assert.deepEqual(loopback.map((h) => classifyHost(h).kind), loopback.map(() => "loopback"));
  // The same forms around 8.8.8.8: public only where the block itself is not special.
  const google = [
    ["::ffff:8.8.8.8", "public"],
    ["::ffff:0:808:808", "reserved"],
    ["::8.8.8.8", "reserved"],
    ["64:ff9b::8.8.8.8", "public"],
    ["64:ff9b:1::808:808", "private"],
    ["2002:808:808::1", "public"],
    ["2001:0:808:808:8000:63bf:f7f7:f7f7", "public"],
  ];
  assert.deepEqual(google.map(([h]) => [h, classifyHost(h!).kind]), google);
});

Deno.test("the registry tables are well formed: canonical blocks, each with an RFC and a kind or an embedding", () => {
  // A block that is not CIDR or has host bits set already fails when address.ts loads.
  const v6 = IPV6_SPECIAL.map((r) => r.block.split("/")[0]!);
  assert.deepEqual(
    v6.map((b) => new URL(`http://[${b}]/`).hostname),
    v6.map((b) => `[${b}]`),
    "every IPv6 block is written as the URL standard serialises it",
  );
  const v4 = IPV4_SPECIAL.map((r) => r.block.split("/")[0]!);
  assert.deepEqual(v4.map((b) => normalizeHost(b)), v4);
  for (const r of [...IPV4_SPECIAL, ...IPV6_SPECIAL]) {
    assert.match(r.rfc, /^RFC \d+/, r.block);
    assert.ok(r.kind !== null || r.embeds !== undefined, `${r.block} has a kind or an embedding`);
  }
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
