import assert from "node:assert/strict";
import { join } from "node:path";
import { LibosError } from "./errors.ts";
import { type ShellBubblewrapMode, ShellProvider, type ShellRequest } from "./shell_provider.ts";

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

function request(argv: string[], extra: Partial<ShellRequest> = {}): ShellRequest {
  return { argv, cwd: "sub", access: "read", network: false, timeoutMs: 4_000, ...extra };
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
  return await new ShellProvider({ workspace: ws.root }).confinement() === "bubblewrap";
})();

/** The modes to prove the unconfined guarantees in: both where bubblewrap works. */
const MODES: ShellBubblewrapMode[] = HAS_BWRAP ? ["require", "off"] : ["off"];

for (const mode of MODES) {
  const confined = mode === "require";

  Deno.test(`[${mode}] echo runs with its argv as given, no shell involved`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
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
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
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
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
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
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
    const result = await shell.run(request(["yes"], { maxOutputBytes: 65_536 }));
    assert.equal(result.truncated, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.stdout.byteLength, 65_536);
    assert.match(text(result.stdout), /^(y\n)+y?$/);
    assert.notEqual(result.code, 0);
  });

  Deno.test(`[${mode}] a program's leftovers in the background die when it exits`, async () => {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
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
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: mode });
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

Deno.test({
  name: "[bwrap] a write under read-only access fails; write access lets it through",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const refused = await shell.run(request(["touch", "made.txt"], { access: "read" }));
    assert.notEqual(refused.code, 0);
    assert.match(text(refused.stderr), /Read-only file system/);
    await assert.rejects(Deno.stat(join(ws.root, "sub", "made.txt")), Deno.errors.NotFound);
    const allowed = await shell.run(request(["touch", "made.txt"], { access: "write" }));
    assert.equal(allowed.code, 0);
    assert.ok((await Deno.stat(join(ws.root, "sub", "made.txt"))).isFile);
  },
});

Deno.test({
  name: "[bwrap] only the cwd subtree of the host is visible, at /workspace/<cwd>",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    await Deno.symlink(join(ws.root, "secret.txt"), join(ws.root, "sub", "escape.txt"));
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    const script = [
      "pwd",
      "cat hello.txt",
      "cat ../secret.txt || echo no-secret",
      "cat escape.txt || echo no-escape",
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
      "no-root",
      "no-home",
      "sub",
      "alternatives",
    ]);
    const nested = await shell.run(request(["pwd"], { cwd: "sub/deeper" }));
    assert.equal(text(nested.stdout), "/workspace/sub/deeper\n");
  },
});

Deno.test({
  name: "[bwrap] no network without `network`: a listening loopback port is unreachable",
  ignore: !HAS_BWRAP,
  async fn() {
    await using ws = await workspace();
    await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "require" });
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const probe = [
      "bash",
      "-c",
      `exec 3<>/dev/tcp/127.0.0.1/${listener.addr.port} && echo connected`,
    ];
    const isolated = await shell.run(request(probe, { network: false }));
    assert.notEqual(isolated.code, 0);
    assert.match(text(isolated.stderr), /Connection refused/);
    const resolved = await shell.run(request(["cat", "/etc/hosts"], { network: false }));
    assert.notEqual(resolved.code, 0);
    // The control: with `network`, the same probe connects, and /etc/hosts is there.
    const accepted = listener.accept();
    const shared = await shell.run(request(probe, { network: true }));
    assert.equal(text(shared.stdout), "connected\n");
    (await accepted).close();
    const hosts = await shell.run(request(["cat", "/etc/hosts"], { network: true }));
    assert.equal(hosts.code, 0);
  },
});

Deno.test("bad requests are refused before anything runs", async () => {
  await using ws = await workspace();
  await Deno.symlink(Deno.cwd(), join(ws.root, "outside"));
  await using shell = new ShellProvider({ workspace: ws.root, bubblewrap: "off" });
  const cases: Array<[Partial<ShellRequest>, string]> = [
    [{ argv: [] }, "EINVAL"],
    [{ argv: ["echo", "a\0b"] }, "EINVAL"],
    [{ cwd: "../etc" }, "EINVAL"],
    [{ cwd: "/etc" }, "EINVAL"],
    [{ cwd: "sub/./deeper" }, "EINVAL"],
    [{ timeoutMs: 0 }, "EINVAL"],
    [{ env: { "BAD=NAME": "x" } }, "EINVAL"],
    [{ cwd: "missing" }, "ENOENT"],
    [{ cwd: "outside" }, "EPERM"],
    [{ cwd: "sub/hello.txt" }, "EINVAL"],
    [{ argv: ["no-such-program-libos"] }, "ENOENT"],
  ];
  const codes = [];
  for (const [change] of cases) {
    codes.push((await rejects(shell.run(request(["true"], change)))).code);
  }
  assert.deepEqual(codes, cases.map(([, code]) => code));
});

Deno.test("disposing the provider kills runs in flight and refuses new ones", async () => {
  await using ws = await workspace();
  const shell = new ShellProvider({ workspace: ws.root, bubblewrap: "off" });
  const pending = rejects(shell.run(request(["sleep", "10"])));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await shell[Symbol.asyncDispose]();
  assert.equal((await pending).code, "ECANCELED");
  assert.ok(performance.now() - started < 2_000);
  assert.equal((await rejects(shell.run(request(["true"])))).code, "ECANCELED");
});
