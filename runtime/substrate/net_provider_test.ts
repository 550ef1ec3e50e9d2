import assert from "node:assert/strict";
import type { HostClass } from "./address.ts";
import { LibosError, libosError } from "../errors.ts";
import { type FetchOptions, NetProvider, type Resolver } from "./net_provider.ts";

// A test CA and a leaf certificate for "example.test" (P-256, valid 2020–2120),
// made for these tests only.
const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBYjCCAQmgAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1saWJvcyB0
ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAYMRYwFAYD
VQQDDA1saWJvcyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEv7uT
S31LYTlBmWssJfb7krXiAIxgF+UNV9Lm7XKwV7Nrk4Twf3d6OpHk/Ub2NPC5Mcgt
NqAB93Maa4WzLZZC2qNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AgQwHQYDVR0OBBYEFK2VRXr7R5i7yDsM9vHepzT/1SRTMAoGCCqGSM49BAMCA0cA
MEQCIHRrB9Gvh7gDWEM+iw4ufhkalrR+i6Y1Q9Gj+p8r45OhAiBA7NWkTQuJ8jky
AxLaBQo73ra+DO1zTg1kMwWiLzcnbA==
-----END CERTIFICATE-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIBAjAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1saWJvcyB0
ZXN0IENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAwWjAXMRUwEwYD
VQQDDAxleGFtcGxlLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQN+Huz
RtQ2DAbtVcptspjJDGdqTSYNMh4Hm+WcibJGdJGLjtOAWP5n3ZQZ0f5ph+b7S1QR
zSTUbxNRGtyE33HRo3sweTAJBgNVHRMEAjAAMBcGA1UdEQQQMA6CDGV4YW1wbGUu
dGVzdDATBgNVHSUEDDAKBggrBgEFBQcDATAfBgNVHSMEGDAWgBStlUV6+0eYu8g7
DPbx3qc0/9UkUzAdBgNVHQ4EFgQURS0pOAN+MiA7aGGxZDa5+rb4OCMwCgYIKoZI
zj0EAwIDSAAwRQIhAPSctDjF4cp9q6kYTcZ2ZA0LNKetzxoJ7XMbRexZ8AUsAiAj
NLy76qz724eGzTNUu/30iRoIHMGy47ak6+JQ2SOoJg==
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgtybQqbEU4W4xMngH
r3jREr8pa4TJnmohhmmib9tE4sehRANCAAQN+HuzRtQ2DAbtVcptspjJDGdqTSYN
Mh4Hm+WcibJGdJGLjtOAWP5n3ZQZ0f5ph+b7S1QRzSTUbxNRGtyE33HR
-----END PRIVATE KEY-----
`;

/** One authorize call as the test saw it. */
type Seen = [host: string, kind: HostClass["kind"], address: string | null];

/** An authorize that allows loopback and names, refuses every host in `refuse`, and records each call. */
function authorizer(refuse: string[] = []): { seen: Seen[]; authorize: FetchOptions["authorize"] } {
  const seen: Seen[] = [];
  return {
    seen,
    authorize(url, address) {
      seen.push([url.hostname, address.kind, address.address]);
      if (
        refuse.includes(url.hostname) || (address.kind !== "loopback" && address.kind !== "name")
      ) {
        throw libosError("EPERM", `Cannot fetch '${url.href}': refused by the test`, {
          resource: `net:${url.hostname}`,
        });
      }
    },
  };
}

/** A resolver over a fixed table; it records every name it was asked. */
function resolver(table: Record<string, string[]>): { asked: string[]; resolve: Resolver } {
  const asked: string[] = [];
  return {
    asked,
    resolve(name) {
      asked.push(name);
      const found = table[name];
      if (found === undefined) {
        return Promise.reject(new Deno.errors.NotFound(`no such name ${name}`));
      }
      return Promise.resolve(found);
    },
  };
}

/** A loopback server; `hits` lists every path it was asked for. */
function serve(
  handler: (request: Request) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
): { server: Deno.HttpServer<Deno.NetAddr>; port: number; hits: string[] } {
  const hits: string[] = [];
  const options = { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls };
  const server = Deno.serve(options, (request) => {
    const url = new URL(request.url);
    hits.push(url.pathname);
    return handler(request);
  });
  return { server, port: server.addr.port, hits };
}

/**
 * A loopback server whose requests wait until it is disposed; `arrival`
 * resolves when the first request is in.
 */
function stalledServer(): { port: number; arrival: Promise<void> } & AsyncDisposable {
  const released = Promise.withResolvers<void>();
  const arrived = Promise.withResolvers<void>();
  const { server, port } = serve(async () => {
    arrived.resolve();
    await released.promise;
    return new Response("late");
  });
  return {
    port,
    arrival: arrived.promise,
    async [Symbol.asyncDispose]() {
      released.resolve();
      await server.shutdown();
    },
  };
}

async function rejects(promise: Promise<unknown>): Promise<LibosError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LibosError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

Deno.test("fetch reaches a loopback server and returns status, headers, body and final URL", async () => {
  const { server, port } = serve((request) =>
    new Response(
      `${request.method} ${new URL(request.url).pathname} ${request.headers.get("x-a")}`,
      {
        status: 201,
        headers: { "x-answer": "42" },
      },
    )
  );
  try {
    const net = new NetProvider();
    const { seen, authorize } = authorizer();
    const response = await net.fetch(
      { url: `http://127.0.0.1:${port}/hello`, method: "POST", headers: { "X-A": "b" }, body: "x" },
      { authorize },
    );
    assert.equal(response.status, 201);
    assert.equal(response.headers["x-answer"], "42");
    assert.equal(new TextDecoder().decode(response.body), "POST /hello b");
    assert.equal(response.url, `http://127.0.0.1:${port}/hello`);
    assert.deepEqual(response.redirects, []);
    assert.deepEqual(seen, [["127.0.0.1", "loopback", "127.0.0.1"]]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("decimal, hex, octal, short and mapped spellings reach authorize as loopback 127.0.0.1", async () => {
  const { server, port, hits } = serve(() => new Response("ok"));
  try {
    const net = new NetProvider();
    const spellings = [
      "2130706433",
      "0x7f000001",
      "0x7f.0.0.1",
      "0177.0.0.1",
      "127.1",
      "[::ffff:127.0.0.1]",
    ];
    const seen: Seen[] = [];
    for (const host of spellings) {
      const auth = authorizer();
      const response = await net.fetch({ url: `http://${host}:${port}/${hits.length}` }, auth);
      assert.equal(response.status, 200);
      seen.push(...auth.seen.map(([, kind, address]): Seen => [host, kind, address]));
    }
    assert.deepEqual(seen, spellings.map((host): Seen => [host, "loopback", "127.0.0.1"]));
    assert.equal(hits.length, spellings.length);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a refused loopback address is never connected to", async () => {
  const { server, port, hits } = serve(() => new Response("ok"));
  try {
    const net = new NetProvider();
    const error = await rejects(
      net.fetch({ url: `http://0x7f000001:${port}/` }, {
        authorize(_url, address) {
          if (address.kind === "loopback") throw libosError("EPERM", "Cannot fetch: loopback");
        },
      }),
    );
    assert.equal(error.code, "EPERM");
    assert.deepEqual(hits, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a name is authorised before any DNS query, then every resolved address is authorised", async () => {
  const { server, port, hits } = serve((request) => new Response(request.headers.get("host")));
  try {
    const dns = resolver({
      "app.test": ["127.0.0.1", "127.0.0.2"],
      "secret.evil.test": ["127.0.0.1"],
    });
    const net = new NetProvider({ resolve: dns.resolve });
    const allowed = authorizer(["secret.evil.test"]);
    const response = await net.fetch({ url: `http://APP.test:${port}/` }, allowed);
    // The Host header keeps the name; the connection went to the checked address.
    assert.equal(new TextDecoder().decode(response.body), `app.test:${port}`);
    assert.deepEqual(allowed.seen, [
      ["app.test", "name", null],
      ["app.test", "loopback", "127.0.0.1"],
      ["app.test", "loopback", "127.0.0.2"],
    ]);
    const refused = authorizer(["secret.evil.test"]);
    const error = await rejects(net.fetch({ url: `http://secret.evil.test:${port}/` }, refused));
    assert.equal(error.code, "EPERM");
    assert.deepEqual(dns.asked, ["app.test"], "the refused name was never sent to DNS");
    assert.deepEqual(hits, ["/"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a name resolving into private space meets the special-address rule for every address", async () => {
  const { server, port, hits } = serve(() => new Response("ok"));
  try {
    const dns = resolver({ "mixed.test": ["127.0.0.1", "10.1.2.3"] });
    const net = new NetProvider({ resolve: dns.resolve });
    const auth = authorizer();
    const error = await rejects(net.fetch({ url: `http://mixed.test:${port}/` }, auth));
    assert.equal(error.code, "EPERM");
    assert.deepEqual(auth.seen, [
      ["mixed.test", "name", null],
      ["mixed.test", "loopback", "127.0.0.1"],
      ["mixed.test", "private", "10.1.2.3"],
    ]);
    assert.deepEqual(hits, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the connection goes to the checked address: the name is resolved once per hop, never by the host", async () => {
  const { server, port } = serve(() => new Response("pinned"));
  try {
    // "rebind.test" exists only in this resolver: if fetch resolved the name again
    // through the host's DNS, the request could not succeed.
    const dns = resolver({ "rebind.test": ["127.0.0.1"] });
    const net = new NetProvider({ resolve: dns.resolve });
    const response = await net.fetch({ url: `http://rebind.test:${port}/` }, authorizer());
    assert.equal(new TextDecoder().decode(response.body), "pinned");
    assert.deepEqual(dns.asked, ["rebind.test"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("https through the pin keeps TLS checks against the URL's name", async () => {
  const { server, port } = serve(() => new Response("secure"), { cert: TEST_CERT, key: TEST_KEY });
  try {
    const dns = resolver({ "example.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"] });
    const net = new NetProvider({ resolve: dns.resolve, caCerts: [TEST_CA] });
    const response = await net.fetch({ url: `https://example.test:${port}/` }, authorizer());
    assert.equal(new TextDecoder().decode(response.body), "secure");
    const error = await rejects(net.fetch({ url: `https://wrong.test:${port}/` }, authorizer()));
    assert.equal(error.code, "EUNKNOWN");
    assert.match(error.message, /certificate/);
    const untrusted = new NetProvider({ resolve: dns.resolve });
    const noCa = await rejects(
      untrusted.fetch({ url: `https://example.test:${port}/` }, authorizer()),
    );
    assert.equal(noCa.code, "EUNKNOWN");
  } finally {
    await server.shutdown();
  }
});

Deno.test("redirects are followed hop by hop, each one authorised again", async () => {
  const { server, port, hits } = serve((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/a") return Response.redirect(`http://127.0.0.1:${port}/b`, 302);
    if (path === "/b") return new Response(null, { status: 307, headers: { location: "/c" } });
    return new Response(`end ${request.method}`);
  });
  try {
    const net = new NetProvider();
    const auth = authorizer();
    const response = await net.fetch({ url: `http://127.0.0.1:${port}/a` }, auth);
    assert.equal(new TextDecoder().decode(response.body), "end GET");
    assert.equal(response.url, `http://127.0.0.1:${port}/c`);
    assert.deepEqual(response.redirects, [
      `http://127.0.0.1:${port}/a`,
      `http://127.0.0.1:${port}/b`,
    ]);
    assert.equal(auth.seen.length, 3);
    assert.deepEqual(hits, ["/a", "/b", "/c"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a redirect to a refused host is refused, and that host is never reached", async () => {
  const { server, port, hits } = serve((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/a") return Response.redirect(`http://127.0.0.1:${port}/b`, 302);
    if (path === "/b") return Response.redirect(`http://internal.test:${port}/c`, 302);
    return new Response("should not be reached");
  });
  try {
    const dns = resolver({ "internal.test": ["127.0.0.1"] });
    const net = new NetProvider({ resolve: dns.resolve });
    const auth = authorizer(["internal.test"]);
    const error = await rejects(net.fetch({ url: `http://127.0.0.1:${port}/a` }, auth));
    assert.equal(error.code, "EPERM");
    assert.deepEqual(auth.seen, [
      ["127.0.0.1", "loopback", "127.0.0.1"],
      ["127.0.0.1", "loopback", "127.0.0.1"],
      ["internal.test", "name", null],
    ]);
    assert.deepEqual(hits, ["/a", "/b"]);
    assert.deepEqual(dns.asked, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a redirect to a private address by IP literal is refused by the special-address rule", async () => {
  const { server, port, hits } = serve(() =>
    Response.redirect("http://169.254.169.254/latest/meta-data", 302)
  );
  try {
    const net = new NetProvider();
    const auth = authorizer();
    const error = await rejects(net.fetch({ url: `http://127.0.0.1:${port}/` }, auth));
    assert.equal(error.code, "EPERM");
    assert.deepEqual(auth.seen.at(-1), ["169.254.169.254", "link-local", "169.254.169.254"]);
    assert.deepEqual(hits, ["/"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a cross-origin redirect drops credentials; 303 turns a POST into a bodiless GET", async () => {
  const { server, port } = serve(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/post") return Response.redirect(`http://other.test:${port}/echo`, 303);
    const body = await request.text();
    return Response.json({
      method: request.method,
      body,
      authorization: request.headers.get("authorization"),
      accept: request.headers.get("accept"),
    });
  });
  try {
    const dns = resolver({ "other.test": ["127.0.0.1"] });
    const net = new NetProvider({ resolve: dns.resolve });
    const response = await net.fetch({
      url: `http://127.0.0.1:${port}/post`,
      method: "POST",
      headers: { authorization: "Bearer secret", accept: "application/json" },
      body: "payload",
    }, authorizer());
    assert.deepEqual(JSON.parse(new TextDecoder().decode(response.body)), {
      method: "GET",
      body: "",
      authorization: null,
      accept: "application/json",
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("more redirects than maxRedirects is ELIMIT", async () => {
  const { server, port, hits } = serve((request) => {
    const n = Number(new URL(request.url).pathname.slice(1));
    return Response.redirect(`http://127.0.0.1:${port}/${n + 1}`, 302);
  });
  try {
    const net = new NetProvider();
    const error = await rejects(
      net.fetch({ url: `http://127.0.0.1:${port}/0` }, { ...authorizer(), maxRedirects: 2 }),
    );
    assert.equal(error.code, "ELIMIT");
    assert.deepEqual(hits, ["/0", "/1", "/2"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a body past maxBytes is ELIMIT, with or without a content-length", async () => {
  const big = new Uint8Array(100_000).fill(97);
  const { server, port } = serve((request) => {
    if (new URL(request.url).pathname === "/sized") return new Response(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(big.subarray(i * 10_000, (i + 1) * 10_000));
        controller.close();
      },
    });
    return new Response(stream);
  });
  try {
    const net = new NetProvider();
    for (const path of ["/sized", "/streamed"]) {
      const error = await rejects(
        net.fetch({ url: `http://127.0.0.1:${port}${path}` }, {
          ...authorizer(),
          maxBytes: 65_536,
        }),
      );
      assert.equal(error.code, "ELIMIT", path);
      assert.match(error.message, /exceeds 65536 bytes/);
    }
    const fits = await net.fetch({ url: `http://127.0.0.1:${port}/streamed` }, {
      ...authorizer(),
      maxBytes: 100_000,
    });
    assert.equal(fits.body.byteLength, 100_000);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a server that does not answer in time is ETIMEDOUT", async () => {
  await using stalled = stalledServer();
  const net = new NetProvider();
  const started = performance.now();
  const error = await rejects(
    net.fetch({ url: `http://127.0.0.1:${stalled.port}/` }, { ...authorizer(), timeoutMs: 150 }),
  );
  assert.equal(error.code, "ETIMEDOUT");
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("aborting the signal cancels the fetch with ECANCELED", async () => {
  await using stalled = stalledServer();
  const net = new NetProvider();
  const controller = new AbortController();
  const pending = rejects(
    net.fetch({ url: `http://127.0.0.1:${stalled.port}/` }, {
      ...authorizer(),
      signal: controller.signal,
    }),
  );
  await stalled.arrival;
  controller.abort();
  assert.equal((await pending).code, "ECANCELED");
});

Deno.test("disposing the provider cancels fetches in flight and refuses new ones", async () => {
  await using stalled = stalledServer();
  const url = `http://127.0.0.1:${stalled.port}/`;
  const net = new NetProvider();
  const pending = rejects(net.fetch({ url }, authorizer()));
  await stalled.arrival;
  await net[Symbol.asyncDispose]();
  assert.equal((await pending).code, "ECANCELED");
  const after = await rejects(net.fetch({ url }, authorizer()));
  assert.equal(after.code, "ECANCELED");
});

Deno.test("bad requests are EINVAL before anything is authorised", async () => {
  const net = new NetProvider();
  const auth = authorizer();
  const cases = [
    { url: "ftp://127.0.0.1/file" },
    { url: "file:///etc/passwd" },
    { url: "http://user:pass@127.0.0.1/" },
    { url: "not a url" },
    { url: "http://127.0.0.1/", method: "GET", body: "x" },
    { url: "http://127.0.0.1/", method: "CONNECT" },
    { url: "http://127.0.0.1/", headers: { "bad header": "x" } },
  ];
  const codes = [];
  for (const request of cases) codes.push((await rejects(net.fetch(request, auth))).code);
  assert.deepEqual(codes, cases.map(() => "EINVAL"));
  assert.deepEqual(auth.seen, []);
  for (const url of ["http://user:hunter2@127.0.0.1/", "ftp://user:hunter2@127.0.0.1/"]) {
    const leak = await rejects(net.fetch({ url }, auth));
    assert.doesNotMatch(`${leak.message} ${JSON.stringify(leak.fields)}`, /hunter2/);
  }
});

Deno.test("a name that does not resolve is ENOENT; a closed port is EUNKNOWN naming the address", async () => {
  const net = new NetProvider({ resolve: resolver({}).resolve });
  const missing = await rejects(net.fetch({ url: "http://nowhere.test/" }, authorizer()));
  assert.equal(missing.code, "ENOENT");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const refused = await rejects(net.fetch({ url: `http://127.0.0.1:${port}/` }, authorizer()));
  assert.equal(refused.code, "EUNKNOWN");
  assert.match(refused.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
});
