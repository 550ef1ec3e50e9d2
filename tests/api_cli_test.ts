/**
 * The CLI verbs against a running kernel, as a user runs them: `libos start`
 * serves the API (and prints the generated admin token once), and `ps`,
 * `spawn`, `approve`, `deny`, `show`, `audit verify` and `token create` talk
 * to it; an unreachable kernel and a wrong token get clear errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const APPROVAL = new URL("../examples/images/approval.jsonc", import.meta.url).pathname;

function libos(args: string[], cwd: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd,
    env: { LIBOS_ADMIN_TOKEN: "", LIBOS_TOKEN: "", LIBOS_URL: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const o = await libos(args, cwd).output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  return { code: o.code, out };
}

Deno.test("libos start serves the API; the CLI verbs drive an approval to the end; wrong tokens and dead kernels get clear errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "libos-cli-api-" });
  const child = libos(
    ["start", "--data", "d", "--workspace", ".", "--port", "0", "--no-sandbox"],
    dir,
  )
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    for (let i = 0; i < 100 && !/admin token \(shown once[^\n]*\n {2}\S+\n/.test(seen); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const url = /API on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen)?.[1];
    assert.ok(url !== undefined, seen);
    const printed = /admin token \(shown once; kept in (.+), mode 0600\):\n {2}(\S+)/.exec(seen);
    assert.ok(printed !== null, seen);
    const [, file, admin] = printed;
    assert.equal(file, join(await Deno.realPath(dir), "d", "admin.token"));
    assert.equal((await Deno.readTextFile(file!)).trim(), admin);
    assert.equal((await Deno.stat(file!)).mode! & 0o777, 0o600);
    const remote = ["--url", url!, "--data", "d"];
    const waitFor = async (pid: string, until: string) => {
      const r = await fetch(`${url}/v1/processes/${pid}/wait?until=${until}&timeoutMs=10000`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      return (await r.json()).process;
    };

    const spawned = await run(["spawn", "--image", APPROVAL, "--goal", "deploy", ...remote], dir);
    assert.equal(spawned.code, 0, spawned.out);
    assert.match(spawned.out, /spawned p_1/);
    assert.equal((await waitFor("p_1", "settled")).state, "waiting");

    const ps = await run(["ps", ...remote], dir);
    assert.equal(ps.code, 0, ps.out);
    assert.match(ps.out, /PID\s+PARENT\s+STATE\s+IMAGE\s+GOAL/);
    assert.match(ps.out, /p_1\s+-\s+waiting\s+approval@1\.0\.0\s+deploy/);

    const created = await run(
      ["token", "create", "--role", "viewer", "--name", "bob", ...remote],
      dir,
    );
    assert.equal(created.code, 0, created.out);
    const viewer = /shown once:\n(\S+)/.exec(created.out)![1]!;
    const forbidden = await run(["approve", "h_1", "--token", viewer, ...remote], dir);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.out, /token 'bob' has role viewer, this needs operator/);

    const approved = await run(["approve", "h_1", ...remote], dir);
    assert.equal(approved.code, 0, approved.out);
    assert.match(approved.out, /h_1 approved \(approval from p_1\)/);
    const twice = await run(["deny", "h_1", ...remote], dir);
    assert.equal(twice.code, 1);
    assert.match(twice.out, /already approved/);
    assert.equal((await waitFor("p_1", "terminal")).state, "exited");

    const show = await run(["show", "p_1", ...remote], dir);
    assert.equal(show.code, 0, show.out);
    assert.match(show.out, /p_1 {2}exited/);
    assert.match(show.out, /g_1 ask fs:deploy\/\*\* \[write\] live/);
    assert.match(show.out, /human \{"requestId":"h_1","decision":"approved","by":"token:admin"/);

    const verify = await run(["audit", "verify", ...remote], dir);
    assert.equal(verify.code, 0, verify.out);
    assert.match(verify.out, /audit chain ok: \d+ records verified/);

    const wrong = await run(["ps", "--url", url!, "--token", "not-the-token-at-all"], dir);
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /refused the token/);

    // A port that was free a moment ago: nothing listens there.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const dead = `http://127.0.0.1:${(probe.addr as Deno.NetAddr).port}`;
    probe.close();
    const unreachable = await run(["ps", "--url", dead, "--token", admin!], dir);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.out, /Cannot reach the kernel at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(unreachable.out, /libos start/);
    const usage = await run(["token", "create", "--role", "root", ...remote], dir);
    assert.equal(usage.code, 2);
  } finally {
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, seen);
    assert.match(seen, /state committed; bye/);
  }
});
