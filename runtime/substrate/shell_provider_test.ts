import assert from "node:assert/strict";
import { join } from "node:path";
import { LibosError } from "../errors.ts";
import { ShellProvider, type ShellProviderOptions, type ShellRequest } from "./shell_provider.ts";
import { decide } from "../capability/capability.ts";
import { computeShellView, type ViewEntry } from "./shell_view.ts";
import type { Grant } from "../types.ts";

const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

/** A workspace with a cwd subtree `sub` (holding hello.txt) and a secret beside it. */
async function workspace(): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.makeTempDir({ prefix: "libos_shell_" });
  await Deno.mkdir(join(root, "sub", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(root, "sub", "hello.txt"), "hello from the workspace\n");
  await Deno.writeTextFile(join(root, "secret.txt"), "top secret\n");
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** The whole `sub` subtree read-only, no network. */
const SUB_RO: ViewEntry[] = [{ path: "sub", mode: "ro", kind: "dir" }];

function request(argv: string[], extra: Partial<ShellRequest> = {}): ShellRequest {
  return { argv, cwd: "sub", view: SUB_RO, proxy: null, timeoutMs: 4_000, ...extra };
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

const HAS_BWRAP = await (async () => {
  await using ws = await workspace();
  return (await new ShellProvider({ workspace: ws.root }).confinement()).kind === "bubblewrap";
})();
if (!HAS_BWRAP) {
  console.warn("shell_provider_test: bubblewrap does not work here; confined tests are skipped");
}

/** Where the guarantees that hold in every mode are proved: unconfined, and bubblewrap where it works. */
const MODES: Array<Pick<ShellProviderOptions, "bubblewrap" | "unconfined">> = [
  ...(HAS_BWRAP ? [{ bubblewrap: "require" as const }] : []),
  { bubblewrap: "off", unconfined: true },
];

for (const options of MODES) {
  const confined = options.bubblewrap === "require";
  const mode = confined ? "bwrap" : "unconfined";

  Deno.test(`[${mode}] echo runs with its argv as given, no shell involved`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    const result = await shell.run(request(["echo", "hello", "$HOME; rm -rf /"]));
    assert.deepEqual(
      { ...result, stdout: text(result.stdout), stderr: text(result.stderr) },
      {
        code: 0,
        signal: null,
        stdout: "hello $HOME; rm -rf /\n",
        stderr: "",
        truncated: false,
        timedOut: false,
        confined,
      },
    );
  });

  Deno.test(`[${mode}] the environment is scrubbed to PATH, HOME, LANG and the given env`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    Deno.env.set("LIBOS_SHELL_CANARY", "leaked");
    try {
      const result = await shell.run(request(["env"], { env: { EXTRA: "1" } }));
      assert.equal(result.code, 0);
      const lines = text(result.stdout).trim().split("\n").sort();
      const expected = ["EXTRA=1", "HOME=/tmp", "LANG=C.UTF-8", "PATH=/usr/bin:/bin"];
      // bubblewrap always sets PWD to the directory it starts the program in.
      if (confined) expected.push("PWD=/workspace/sub");
      assert.deepEqual(lines, expected);
    } finally {
      Deno.env.delete("LIBOS_SHELL_CANARY");
    }
  });

  Deno.test(`[${mode}] the timeout kills a sleep 10 and says so`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    const started = performance.now();
    const result = await shell.run(request(["sleep", "10"], { timeoutMs: 300 }));
    const elapsed = performance.now() - started;
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, "SIGKILL");
    assert.equal(result.code, null);
    assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
  });

  Deno.test(`[${mode}] the output cap truncates yes and kills it`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    const result = await shell.run(request(["yes"], { maxOutputBytes: 65_536 }));
    assert.equal(result.truncated, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.stdout.byteLength, 65_536);
    assert.match(text(result.stdout), /^(y\n)+y?$/);
    assert.notEqual(result.code, 0);
  });

  Deno.test(`[${mode}] a program's leftovers in the background die when it exits`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    const started = performance.now();
    const result = await shell.run(request(["sh", "-c", "sleep 10 & echo $!"]));
    assert.equal(result.code, 0);
    assert.ok(performance.now() - started < 3_000);
    if (!confined) {
      // Outside a pid namespace the pid is the host's: it must be gone (or a zombie).
      const pid = Number(text(result.stdout).trim());
      assert.ok(pid > 0);
      let alive = true;
      for (let i = 0; i < 100 && alive; i++) {
        alive = _running(pid);
        if (alive) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(alive, false, `background sleep ${pid} survived the run`);
    }
  });

  Deno.test(`[${mode}] cancelling the signal kills the run with ECANCELED`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, ...options });
    const controller = new AbortController();
    const pending = rejects(
      shell.run(request(["sh", "-c", "echo started; sleep 10"]), { signal: controller.signal }),
    );
    setTimeout(() => controller.abort(), 100);
    assert.equal((await pending).code, "ECANCELED");
  });
}

function _running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A workspace for view tests: pub/, secret/, out/ and top.txt. */
async function viewWorkspace(): Promise<{ root: string } & AsyncDisposable> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "libos_shell_view_" }));
  for (const dir of ["pub", "secret", "out"]) await Deno.mkdir(join(root, dir));
  await Deno.writeTextFile(join(root, "pub", "readme.txt"), "public\n");
  await Deno.writeTextFile(join(root, "pub", "private.txt"), "private\n");
  await Deno.writeTextFile(join(root, "secret", "key.txt"), "the key\n");
  await Deno.writeTextFile(join(root, "top.txt"), "top\n");
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** The view of the root for: fs:** read, fs:out/** read+write, secret/** and pub/private.txt denied. */
async function grantedView(root: string): Promise<ViewEntry[]> {
  const grant = (
    id: string,
    resource: string,
    rights: string[],
    effect: Grant["effect"],
  ): Grant => ({
    id,
    subject: "p_1",
    resource,
    rights,
    effect,
    uses: null,
    expiresAt: null,
    delegable: false,
    parentId: null,
    issuedBy: "operator:test",
    revoked: false,
    createdAt: 0,
  });
  const grants = [
    grant("g1", "fs:**", ["read"], "allow"),
    grant("g2", "fs:out/**", ["read", "write"], "allow"),
    grant("g3", "fs:secret/**", ["read", "write"], "deny"),
    grant("g4", "fs:pub/private.txt", ["read", "write"], "deny"),
  ];
  const view = await computeShellView({
    workspace: root,
    cwd: "",
    decide: (resource, right) => decide(grants, resource, right, 1),
  });
  return view.entries;
}

Deno.test({
  name: "[bwrap] the program sees its view: hidden dirs are empty, hidden files unreadable",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await viewWorkspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const view = await grantedView(ws.root);
    const script = [
      "cat pub/readme.txt",
      "cat secret/key.txt || echo no-key",
      "ls -A secret | wc -l",
      "cat pub/private.txt || echo no-private",
      "cat top.txt",
    ].join("; ");
    const result = await shell.run(request(["sh", "-c", script], { cwd: "", view }));
    assert.deepEqual(text(result.stdout).trim().split("\n"), [
      "public",
      "no-key",
      "0",
      "no-private",
      "top",
    ]);
  },
});

Deno.test({
  name: "[bwrap] writes land only in rw entries; nothing else changes on the host",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await viewWorkspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const view = await grantedView(ws.root);
    const attempts = [
      "cp pub/readme.txt secret/planted.txt",
      "cp pub/readme.txt pub/planted.txt",
      "rm pub/private.txt",
      "rm -r secret",
      "sh -c 'echo changed > top.txt'",
      "cp pub/readme.txt out/copied.txt",
    ];
    const script = attempts.map((a) => `if ${a} 2>/dev/null; then echo ok; else echo refused; fi`);
    const result = await shell.run(request(["sh", "-c", script.join("; ")], { cwd: "", view }));
    assert.deepEqual(text(result.stdout).trim().split("\n"), [
      "refused",
      "refused",
      "refused",
      "refused",
      "refused",
      "ok",
    ]);
    const exists = (path: string) => Deno.stat(join(ws.root, path)).then(() => true, () => false);
    assert.deepEqual(
      {
        planted: await exists("secret/planted.txt"),
        pubPlanted: await exists("pub/planted.txt"),
        private: await Deno.readTextFile(join(ws.root, "pub", "private.txt")),
        key: await Deno.readTextFile(join(ws.root, "secret", "key.txt")),
        top: await Deno.readTextFile(join(ws.root, "top.txt")),
        copied: await Deno.readTextFile(join(ws.root, "out", "copied.txt")),
      },
      {
        planted: false,
        pubPlanted: false,
        private: "private\n",
        key: "the key\n",
        top: "top\n",
        copied: "public\n",
      },
    );
  },
});

Deno.test({
  name: "[bwrap] only the cwd subtree of the host is visible, at /workspace/<cwd>",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    await Deno.symlink(join(ws.root, "secret.txt"), join(ws.root, "sub", "escape.txt"));
    await Deno.symlink("../secret.txt", join(ws.root, "sub", "relative.txt"));
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const script = [
      "pwd",
      "cat hello.txt",
      "cat ../secret.txt || echo no-secret",
      "cat escape.txt || echo no-escape",
      "cat relative.txt || echo no-relative",
      "ls /root || echo no-root",
      "ls /home || echo no-home",
      "ls /workspace",
      "ls /etc",
    ].join("; ");
    const result = await shell.run(request(["sh", "-c", script]));
    assert.deepEqual(text(result.stdout).trim().split("\n"), [
      "/workspace/sub",
      "hello from the workspace",
      "no-secret",
      "no-escape",
      "no-relative",
      "no-root",
      "no-home",
      "sub",
      "alternatives",
    ]);
    const nested = await shell.run(
      request(["pwd"], {
        cwd: "sub/deeper",
        view: [{ path: "sub/deeper", mode: "ro", kind: "dir" }],
      }),
    );
    assert.equal(text(nested.stdout), "/workspace/sub/deeper\n");
  },
});

Deno.test({
  name: "[bwrap] a hidden cwd is an empty directory the program cannot write",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const result = await shell.run(
      request(["sh", "-c", "ls -A | wc -l; touch made.txt || echo refused"], {
        view: [{ path: "sub", mode: "hidden", kind: "dir" }],
      }),
    );
    assert.deepEqual(text(result.stdout).trim().split("\n"), ["0", "refused"]);
    const names = [];
    for await (const entry of Deno.readDir(join(ws.root, "sub"))) names.push(entry.name);
    assert.deepEqual(names.sort(), ["deeper", "hello.txt"]);
  },
});

/** An in-sandbox TCP probe of 127.0.0.1:<port>: bash's /dev/tcp, else python3; null when neither exists. */
function tcpProbe(port: number): string[] | null {
  const has = (path: string) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  };
  if (has("/usr/bin/bash") || has("/bin/bash")) {
    return ["bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`];
  }
  if (has("/usr/bin/python3")) {
    return [
      "python3",
      "-c",
      `import socket; socket.create_connection(("127.0.0.1", ${port}), 2); print("connected")`,
    ];
  }
  return null;
}

Deno.test({
  name: "[bwrap] without a proxy a loopback server on the host is unreachable",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const probe = tcpProbe(listener.addr.port);
    if (probe === null) {
      console.warn("skipped: neither bash nor /usr/bin/python3 is installed to probe TCP");
      return;
    }
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const isolated = await shell.run(request(probe));
    assert.notEqual(isolated.code, 0);
    assert.equal(text(isolated.stdout), "");
    const hosts = await shell.run(request(["cat", "/etc/hosts"]));
    assert.notEqual(hosts.code, 0);
    // The control: the same probe, unconfined, does connect.
    await using open = new ShellProvider({
      workspace: ws.root,
      bubblewrap: "off",
      unconfined: true,
    });
    const accepted = listener.accept();
    const reached = await open.run(request(probe));
    assert.equal(text(reached.stdout), "connected\n");
    (await accepted).close();
  },
});

Deno.test("without bubblewrap and without `unconfined`, a run is refused with EPERM", async () => {
  await using ws = await workspace();
  await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "off" });
  const confinement = await shell.confinement();
  assert.equal(confinement.kind, "refused");
  const error = await rejects(shell.run(request(["true"])));
  assert.equal(error.code, "EPERM");
  assert.match(error.message, /cannot be confined/);
  assert.match(error.message, /unconfined: true/);
  const open = new ShellProvider({ workspace: ws.root, bubblewrap: "off", unconfined: true });
  assert.equal((await open.confinement()).kind, "unconfined");
  assert.throws(
    () => new ShellProvider({ workspace: ws.root, bubblewrap: "require", unconfined: true }),
    TypeError,
  );
});

Deno.test("bad requests are refused before anything runs", async () => {
  await using ws = await workspace();
  await Deno.symlink(Deno.cwd(), join(ws.root, "outside"));
  await Deno.symlink("sub", join(ws.root, "alias"));
  await using shell = new ShellProvider({
    workspace: ws.root,
    bubblewrap: "off",
    unconfined: true,
  });
  const cases: Array<[Partial<ShellRequest>, string]> = [
    [{ argv: [] }, "EINVAL"],
    [{ argv: ["echo", "a\0b"] }, "EINVAL"],
    [{ cwd: "../etc" }, "EINVAL"],
    [{ cwd: "/etc" }, "EINVAL"],
    [{ cwd: "sub/./deeper" }, "EINVAL"],
    [{ timeoutMs: 0 }, "EINVAL"],
    [{ env: { "BAD=NAME": "x" } }, "EINVAL"],
    [{ cwd: "missing", view: [{ path: "missing", mode: "ro", kind: "dir" }] }, "ENOENT"],
    [{ cwd: "outside", view: [{ path: "outside", mode: "ro", kind: "dir" }] }, "EPERM"],
    [
      { cwd: "sub/hello.txt", view: [{ path: "sub/hello.txt", mode: "ro", kind: "file" }] },
      "EINVAL",
    ],
    [{ cwd: "alias", view: [{ path: "alias", mode: "ro", kind: "dir" }] }, "EINVAL"],
    [{ argv: ["no-such-program-libos"] }, "ENOENT"],
    [{ view: [] }, "EINVAL"],
    [{ view: [{ path: "", mode: "ro", kind: "dir" }] }, "EINVAL"],
    [{ view: [...SUB_RO, { path: "sub/x/y", mode: "rw", kind: "file" }] }, "EINVAL"],
    [{ proxy: { socketPath: "relative.sock" } }, "EINVAL"],
  ];
  const codes = [];
  for (const [change] of cases) {
    codes.push((await rejects(shell.run(request(["true"], change)))).code);
  }
  assert.deepEqual(codes, cases.map(([, code]) => code));
});

Deno.test("disposing the provider kills runs in flight and refuses new ones", async () => {
  await using ws = await workspace();
  const shell = new ShellProvider({ workspace: ws.root, bubblewrap: "off", unconfined: true });
  const pending = rejects(shell.run(request(["sleep", "10"])));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await shell[Symbol.asyncDispose]();
  assert.equal((await pending).code, "ECANCELED");
  assert.ok(performance.now() - started < 2_000);
  assert.equal((await rejects(shell.run(request(["true"])))).code, "ECANCELED");
});
