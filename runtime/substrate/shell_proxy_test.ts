import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { ShellProvider, type ShellRequest } from "./shell_provider.ts";
import {
  proxyEnvironment,
  ShellNetProxy,
  type ShellNetProxyOptions,
  type ShellProxyTarget,
  type ShellProxyVerdict,
} from "./shell_proxy.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A loopback HTTP server that answers "hello <path>" and records what it was asked. */
function origin(): {
  port: number;
  seen: Array<{ path: string; host: string | null; headers: string[] }>;
} & AsyncDisposable {
  const seen: Array<{ path: string; host: string | null; headers: string[] }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push({
      path: url.pathname,
      host: req.headers.get("host"),
      headers: [...req.headers.keys()],
    });
    return new Response(`hello ${url.pathname}\n`);
  });
  return {
    port: server.addr.port,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** An authorize callback that lets `origin.test` through to 127.0.0.1 and records every target. */
function allowOrigin(asked: ShellProxyTarget[]): ShellNetProxyOptions["authorize"] {
  return (target) => {
    asked.push(target);
    return Promise.resolve<ShellProxyVerdict>(
      target.host === "origin.test"
        ? { ok: true, address: "127.0.0.1" }
        : { ok: false, reason: `process p_1 holds no net capability for ${target.host}` },
    );
  };
}

/** Sends raw bytes to the proxy and reads until it closes. */
async function exchange(socketPath: string, text: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socketPath });
  try {
    await conn.write(encoder.encode(text));
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    return chunks.map((chunk) => decoder.decode(chunk)).join("");
  } finally {
    conn.close();
  }
}

Deno.test("a forward request reaches the authorised origin in origin form, with its Host", async () => {
  await using server = origin();
  const asked: ShellProxyTarget[] = [];
  await using proxy = await ShellNetProxy.start({ authorize: allowOrigin(asked) });
  const response = await exchange(
    proxy.socketPath,
    `GET http://ORIGIN.test:${server.port}/path?q=1 HTTP/1.1\r\nHost: elsewhere.test\r\n` +
      "Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\n\r\n",
  );
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.match(response, /hello \/path\n$/);
  assert.deepEqual(asked, [{ host: "origin.test", port: server.port }]);
  assert.equal(server.seen.length, 1);
  assert.equal(server.seen[0]?.host, `origin.test:${server.port}`);
  assert.ok(!server.seen[0]?.headers.some((h) => h.startsWith("proxy-")));
});

Deno.test("CONNECT answers 200 and relays bytes both ways", async () => {
  await using server = origin();
  await using proxy = await ShellNetProxy.start({ authorize: allowOrigin([]) });
  const response = await exchange(
    proxy.socketPath,
    `CONNECT origin.test:${server.port} HTTP/1.1\r\nHost: origin.test:${server.port}\r\n\r\n` +
      `GET /tunnel HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n`,
  );
  assert.match(response, /^HTTP\/1\.1 200 Connection established\r\n\r\nHTTP\/1\.1 200 /);
  assert.match(response, /hello \/tunnel\n$/);
  assert.deepEqual(server.seen.map((s) => s.path), ["/tunnel"]);
});

Deno.test("a refused connection is answered 403 with the reason and reaches nothing", async () => {
  await using server = origin();
  await using proxy = await ShellNetProxy.start({ authorize: allowOrigin([]) });
  const forward = await exchange(
    proxy.socketPath,
    `GET http://blocked.test:${server.port}/ HTTP/1.1\r\nHost: blocked.test\r\n\r\n`,
  );
  const tunnel = await exchange(
    proxy.socketPath,
    `CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\n\r\n`,
  );
  for (const response of [forward, tunnel]) {
    assert.match(response, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(response, /holds no net capability for (blocked\.test|127\.0\.0\.1)\n$/);
  }
  assert.equal(server.seen.length, 0);
});

Deno.test("malformed, oversized and unsupported requests are answered without asking", async () => {
  const asked: ShellProxyTarget[] = [];
  await using proxy = await ShellNetProxy.start({
    authorize: (target) => {
      asked.push(target);
      return Promise.resolve({ ok: true, address: "origin.test" });
    },
    maxHeaderBytes: 1024,
  });
  const status = async (text: string) =>
    (await exchange(proxy.socketPath, text)).split("\r\n")[0]?.split(" ")[1];
  const statuses = [
    await status("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    await status("GET https://origin.test/ HTTP/1.1\r\n\r\n"),
    await status("GET http://user:pw@origin.test/ HTTP/1.1\r\n\r\n"),
    await status("CONNECT origin.test HTTP/1.1\r\n\r\n"),
    await status("CONNECT origin.test:99999 HTTP/1.1\r\n\r\n"),
    await status("NONSENSE\r\n\r\n"),
    await status(`GET http://origin.test/ HTTP/1.1\r\nX: ${"a".repeat(2048)}\r\n\r\n`),
  ];
  assert.deepEqual(statuses, ["400", "400", "400", "400", "400", "400", "431"]);
  assert.deepEqual(asked, []);
  // An answer that is a name, not an IP address, is refused: the proxy never resolves.
  assert.equal(await status("CONNECT origin.test:80 HTTP/1.1\r\n\r\n"), "502");
});

Deno.test("the proxy bounds connections, the request head's deadline and idle tunnels", async () => {
  using silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) accepted.push(conn);
  })().catch(() => {});
  await using proxy = await ShellNetProxy.start({
    authorize: () => Promise.resolve({ ok: true, address: "127.0.0.1" }),
    maxConnections: 1,
    headerTimeoutMs: 300,
    idleTimeoutMs: 200,
  });
  // The first connection sends nothing: it holds the only slot until its head deadline.
  const first = await Deno.connect({ transport: "unix", path: proxy.socketPath });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = await exchange(proxy.socketPath, "CONNECT a.test:1 HTTP/1.1\r\n\r\n");
  assert.match(second, /^HTTP\/1\.1 503 /);
  const late = new Uint8Array(1024);
  const n = await first.read(late);
  assert.match(decoder.decode(late.subarray(0, n ?? 0)), /^HTTP\/1\.1 408 /);
  first.close();
  // A tunnel to a server that never speaks is closed once idle.
  const started = performance.now();
  const idle = await exchange(
    proxy.socketPath,
    `CONNECT quiet.test:${silent.addr.port} HTTP/1.1\r\n\r\n`,
  );
  assert.equal(idle, "HTTP/1.1 200 Connection established\r\n\r\n");
  assert.ok(performance.now() - started < 2_000);
  silent.close();
  await accepting;
  for (const conn of accepted) conn.close();
});

Deno.test("closing the proxy aborts pending decisions, closes tunnels and removes its directory", async () => {
  using quiet = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let seenSignal: AbortSignal | null = null;
  const proxy = await ShellNetProxy.start({
    authorize: (target, { signal }) => {
      if (target.host === "quiet.test") return Promise.resolve({ ok: true, address: "127.0.0.1" });
      seenSignal = signal;
      return new Promise(() => {}); // a human who never answers
    },
  });
  const dir = dirname(proxy.socketPath);
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  const tunnel = exchange(
    proxy.socketPath,
    `CONNECT quiet.test:${quiet.addr.port} HTTP/1.1\r\n\r\n`,
  );
  const upstream = await quiet.accept();
  const pending = exchange(proxy.socketPath, "CONNECT asking.test:443 HTTP/1.1\r\n\r\n");
  await new Promise((resolve) => setTimeout(resolve, 50));
  await proxy.close();
  assert.equal(await tunnel, "HTTP/1.1 200 Connection established\r\n\r\n");
  assert.equal(await pending, "");
  assert.equal(await upstream.read(new Uint8Array(16)), null);
  upstream.close();
  assert.equal((seenSignal as AbortSignal | null)?.aborted, true);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

// ---------------------------------------------------------------- end to end, under bubblewrap

const HAS_BWRAP = await (async () => {
  const probe = new ShellProvider({ workspace: Deno.cwd() });
  return (await probe.confinement()).kind === "bubblewrap";
})();
const HAS_CURL = (() => {
  try {
    return Deno.statSync("/usr/bin/curl").isFile;
  } catch {
    return false;
  }
})();
if (!HAS_BWRAP) {
  console.warn("shell_proxy_test: bubblewrap does not work here; end-to-end tests skipped");
} else if (!HAS_CURL) console.warn("shell_proxy_test: /usr/bin/curl is absent; curl tests skipped");

/** An empty workspace holding `sub`, and a provider confined by bubblewrap. */
async function sandbox(): Promise<
  & {
    shell: ShellProvider;
    request: (argv: string[], extra?: Partial<ShellRequest>) => ShellRequest;
  }
  & AsyncDisposable
> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "libos_proxy_" }));
  await Deno.mkdir(join(root, "sub"));
  const shell = new ShellProvider({ workspace: root, bubblewrap: "require" });
  return {
    shell,
    request: (argv, extra = {}) => ({
      argv,
      cwd: "sub",
      view: [{ path: "sub", mode: "ro", kind: "dir" }],
      proxy: null,
      timeoutMs: 10_000,
      ...extra,
    }),
    async [Symbol.asyncDispose]() {
      await shell[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "[bwrap] behind the relay the program gets the proxy environment, its exit code and its deadline",
  ignore: !HAS_BWRAP,
  async fn() {
    await using box = await sandbox();
    await using proxy = await ShellNetProxy.start({ authorize: allowOrigin([]) });
    const via = { proxy: { socketPath: proxy.socketPath } };
    const env = await box.shell.run(box.request(["env"], { ...via, env: { EXTRA: "1" } }));
    const expected = Object.entries({
      EXTRA: "1",
      HOME: "/tmp",
      LANG: "C.UTF-8",
      PATH: "/usr/bin:/bin",
      PWD: "/workspace/sub",
      ...proxyEnvironment(),
    }).map(([key, value]) => `${key}=${value}`).sort();
    assert.deepEqual(decoder.decode(env.stdout).trim().split("\n").sort(), expected);
    const exit = await box.shell.run(box.request(["sh", "-c", "echo out; exit 3"], via));
    assert.deepEqual([exit.code, decoder.decode(exit.stdout)], [3, "out\n"]);
    const slow = await box.shell.run(box.request(["sleep", "10"], { ...via, timeoutMs: 500 }));
    assert.equal(slow.timedOut, true);
  },
});

Deno.test({
  name: "[bwrap] curl reaches a host server through the proxy only when authorize allows it",
  ignore: !HAS_BWRAP || !HAS_CURL,
  async fn() {
    await using server = origin();
    await using box = await sandbox();
    const asked: ShellProxyTarget[] = [];
    await using proxy = await ShellNetProxy.start({ authorize: allowOrigin(asked) });
    const via = { proxy: { socketPath: proxy.socketPath } };
    const curl = (url: string, ...flags: string[]) =>
      box.request(["curl", "-sS", "-f", "--max-time", "5", ...flags, url], via);

    const forward = await box.shell.run(curl(`http://origin.test:${server.port}/plain`));
    assert.equal(decoder.decode(forward.stdout), "hello /plain\n", decoder.decode(forward.stderr));
    // --proxytunnel makes curl use CONNECT, as it does for https.
    const tunnel = await box.shell.run(curl(`http://origin.test:${server.port}/tunnel`, "-p"));
    assert.equal(decoder.decode(tunnel.stdout), "hello /tunnel\n", decoder.decode(tunnel.stderr));
    assert.deepEqual(server.seen.map((s) => s.path), ["/plain", "/tunnel"]);

    const refused = await box.shell.run(curl(`http://blocked.test:${server.port}/no`));
    const refusedTunnel = await box.shell.run(curl(`http://blocked.test:${server.port}/no`, "-p"));
    assert.notEqual(refused.code, 0);
    assert.notEqual(refusedTunnel.code, 0);
    assert.match(decoder.decode(refusedTunnel.stderr), /403/);
    assert.deepEqual(asked.map((t) => t.host), [
      "origin.test",
      "origin.test",
      "blocked.test",
      "blocked.test",
    ]);
    assert.equal(server.seen.length, 2);
  },
});

Deno.test({
  name: "[bwrap] with proxy null, curl reaches neither the host server nor any proxy",
  ignore: !HAS_BWRAP || !HAS_CURL,
  async fn() {
    await using server = origin();
    await using box = await sandbox();
    const direct = await box.shell.run(
      box.request(["curl", "-sS", "--max-time", "5", `http://127.0.0.1:${server.port}/`]),
    );
    assert.notEqual(direct.code, 0);
    const proxied = await box.shell.run(
      box.request(["curl", "-sS", "--max-time", "5", `http://origin.test:${server.port}/`], {
        env: proxyEnvironment(),
      }),
    );
    assert.notEqual(proxied.code, 0);
    assert.equal(server.seen.length, 0);
  },
});
