/**
 * Unknown outcomes go to a human when the image says so
 * (`recovery.onUnknownOutcome: "ask"`): a program found in flight after a
 * crash is never run again on its own and never shown to the model as a
 * failure; the process waits on an `outcome` request, and the answer
 * (happened, retry, fail) settles the call — once, across further crashes.
 *
 * A crash is a {@linkcode CrashableStore}: from the chosen batch on nothing
 * more is durable, and a new kernel boots on what was. The same behaviour
 * through the HTTP API of a real kernel killed with SIGKILL is in
 * tests/crash/outcome_kill_test.ts.
 */
import assert from "node:assert/strict";
import {
  type AgentImageInput,
  bodyText,
  Kernel,
  MemoryFilesystem,
  MemoryStore,
  parseImage,
  type ShellProvider,
} from "../mod.ts";
import { sha256Hex } from "../runtime/audit/canonical_json.ts";
import type { Store } from "../runtime/store/store.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { call, outcome, scripted, toolResults } from "./helpers.ts";

const RELEASE = new TextEncoder().encode("release v2\n");

/** A shell provider double: counts runs; a run on a crashed store never returns. */
function countingShell(workspace: string, options: { crash?: CrashableStore } = {}) {
  const seen = { runs: 0 };
  const shell = {
    workspace,
    confinement: () => Promise.resolve({ kind: "bubblewrap", notice: "fake" }),
    run: () => {
      seen.runs += 1;
      if (options.crash !== undefined) {
        // The kernel dies while the program runs: its result is never journaled.
        options.crash.crash();
        return new Promise(() => {});
      }
      return Promise.resolve({
        code: 0,
        signal: null,
        stdout: new TextEncoder().encode("deployed\n"),
        stderr: new Uint8Array(),
        truncated: false,
        timedOut: false,
        confined: true,
      });
    },
  } as unknown as ShellProvider;
  return { shell, seen };
}

function deployImage(recovery: "ask" | "fail" | null): AgentImageInput {
  const image = scripted([
    call("run_shell", { argv: ["deploy", "release.tar", "--fast"] }),
    call("exit", { result: { $ref: "steps[0].result" } }),
  ], {
    capabilities: [
      { resource: "shell:deploy", rights: ["exec"], uses: 1 },
      { resource: "fs:**", rights: ["read", "write"] },
    ],
  });
  return recovery === null ? image : { ...image, recovery: { onUnknownOutcome: recovery } };
}

/**
 * Boots a kernel, spawns the deploy image and kills the kernel while the
 * program runs (intent and spend committed, result not). Returns what a new
 * kernel boots on, with the workspace as the crash left it.
 */
async function crashWhileDeploying(recovery: "ask" | "fail" | null, workspace: string) {
  const store = new CrashableStore(new MemoryStore());
  const fs = new MemoryFilesystem();
  await fs.writeBytes("release.tar", RELEASE);
  const first = countingShell(workspace, { crash: store });
  const k1 = await Kernel.create({ store, filesystem: fs, shell: first.shell });
  const { pid } = await k1.spawn({ image: deployImage(recovery), goal: "deploy" });
  await _until(() => store.crashed);
  assert.equal(first.seen.runs, 1);
  return { inner: store.inner, fs, pid };
}

async function boot(store: Store, fs: MemoryFilesystem, shell: ShellProvider) {
  return await Kernel.create({ store, filesystem: fs, shell });
}

Deno.test('recovery.onUnknownOutcome "ask": the process waits on an outcome request showing the call, when it started and the file evidence; the grant stays spent', async () => {
  await using dir = await _tempDir();
  const crashed = await crashWhileDeploying("ask", dir.path);
  const shell = countingShell(dir.path);
  await using k2 = await boot(crashed.inner, crashed.fs, shell.shell);
  const p = await k2.wait(crashed.pid);
  assert.equal(p.state, "waiting");
  const requests = k2.humanRequests({ pid: crashed.pid });
  assert.equal(requests.length, 1);
  const r = requests[0]!;
  assert.equal(r.kind, "outcome");
  assert.equal(r.state, "pending");
  const preview = bodyText(r.preview);
  assert.match(preview, /shell\.run was in flight when the kernel stopped/);
  assert.match(preview, /started: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
  assert.match(preview, /program "deploy" ran in \//);
  assert.ok(
    preview.includes(`/release.tar: a file, ${RELEASE.length} bytes`) &&
      preview.includes(`sha256 ${sha256Hex(RELEASE)}`),
    preview,
  );
  assert.match(preview, /arguments: \{"argv":\["deploy","release.tar","--fast"\]/);
  assert.equal(shell.seen.runs, 0, "not run again on its own");
  assert.deepEqual(await toolResults(k2, crashed.pid), [], "nothing shown to the model yet");
  const grant = k2.capabilities(crashed.pid).find((g) => g.resource.startsWith("shell:"));
  assert.equal(grant?.uses, 0, "spent once, by the first attempt");
  // Only the three outcome answers settle it, and a value goes with happened only.
  for (const wrong of ["approve", "deny", "answer"] as const) {
    await assert.rejects(k2.answer(r.id, { decision: wrong, answer: "x" }), /EINVAL|happened/);
  }
  await assert.rejects(k2.answer(r.id, { decision: "retry", value: 1 }), /only 'happened'/);
  assert.equal(k2.humanRequest(r.id).state, "pending", "a refused answer changes nothing");
});

Deno.test('an outcome answered "happened" journals the given value as the call\'s result; the program is not run again', async () => {
  await using dir = await _tempDir();
  const crashed = await crashWhileDeploying("ask", dir.path);
  const shell = countingShell(dir.path);
  await using k2 = await boot(crashed.inner, crashed.fs, shell.shell);
  assert.equal((await k2.wait(crashed.pid)).state, "waiting");
  const [r] = k2.humanRequests({ pid: crashed.pid });
  const value = { code: 0, stdout: "deployed (checked by hand)\n" };
  const decided = await k2.answer(r!.id, { decision: "happened", value });
  assert.equal(decided.state, "answered");
  assert.equal(decided.answer, "happened");
  assert.deepEqual(decided.value, value);
  const done = await k2.wait(crashed.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  assert.deepEqual(done.result, { ok: true, value });
  assert.equal(shell.seen.runs, 0);
  const syscall = (await k2.journal(crashed.pid)).find((e) =>
    e.kind === "syscall" && e.data["name"] === "shell.run"
  );
  assert.deepEqual(syscall?.data["value"], value);
  const audit = await k2.audit({ action: "human.answered", pid: crashed.pid });
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.detail["outcome"], "happened");
  assert.equal((await k2.verifyAudit()).ok, true);
});

Deno.test('an outcome answered "retry" runs the program exactly once more, without spending its uses: 1 grant again', async () => {
  await using dir = await _tempDir();
  const crashed = await crashWhileDeploying("ask", dir.path);
  const shell = countingShell(dir.path);
  await using k2 = await boot(crashed.inner, crashed.fs, shell.shell);
  assert.equal((await k2.wait(crashed.pid)).state, "waiting");
  const [r] = k2.humanRequests({ pid: crashed.pid });
  await k2.answer(r!.id, { decision: "retry" });
  const done = await k2.wait(crashed.pid, { until: "terminal" });
  assert.equal(done.state, "exited");
  assert.equal(shell.seen.runs, 1);
  const result = done.result as { ok: boolean; value: { stdout: string } };
  assert.equal(result.ok, true);
  assert.equal(result.value.stdout, "deployed\n");
  const grant = k2.capabilities(crashed.pid).find((g) => g.resource.startsWith("shell:"));
  assert.equal(grant?.uses, 0);
  assert.equal(k2.humanRequests({ pid: crashed.pid }).length, 1, "asked once");
  assert.equal(k2.humanRequest(r!.id).consumed, true);
});

Deno.test('an outcome answered "fail" gives the model EUNKNOWN; with no recovery setting there is no request at all', async () => {
  await using dir = await _tempDir();
  for (const recovery of ["ask", null] as const) {
    const crashed = await crashWhileDeploying(recovery, dir.path);
    const shell = countingShell(dir.path);
    await using k2 = await boot(crashed.inner, crashed.fs, shell.shell);
    if (recovery === "ask") {
      assert.equal((await k2.wait(crashed.pid)).state, "waiting");
      const [r] = k2.humanRequests({ pid: crashed.pid });
      await k2.answer(r!.id, { decision: "fail" });
    }
    await k2.wait(crashed.pid, { until: "terminal" });
    const results = await toolResults(k2, crashed.pid);
    assert.deepEqual(results.map(outcome), ["EUNKNOWN", "ok"], String(recovery));
    if (recovery === "ask") {
      assert.match(
        results[0]!.result.ok ? "" : results[0]!.result.error.message,
        /answered fail \(request h_\d+\)/,
      );
    } else assert.equal(k2.humanRequests({ pid: crashed.pid }).length, 0);
    assert.equal(shell.seen.runs, 0);
  }
});

Deno.test("a crash after the outcome answer committed but before the process resumed neither asks again nor runs twice", async () => {
  await using dir = await _tempDir();
  for (const decision of ["retry", "happened"] as const) {
    const crashed = await crashWhileDeploying("ask", dir.path);
    const store2 = new CrashableStore(crashed.inner);
    const shell2 = countingShell(dir.path);
    const k2 = await boot(store2, crashed.fs, shell2.shell);
    assert.equal((await k2.wait(crashed.pid)).state, "waiting");
    const [r] = k2.humanRequests({ pid: crashed.pid });
    store2.crashAt((batch) =>
      batch.some((m) => m.kind === "human.put" && m.request.state === "answered") ? "after" : null
    );
    // The answer is durable, and the kernel dies before it acknowledges it.
    void k2.answer(r!.id, decision === "happened" ? { decision, value: "by hand" } : { decision });
    await _until(() => store2.crashed);
    const shell3 = countingShell(dir.path);
    await using k3 = await boot(crashed.inner, crashed.fs, shell3.shell);
    const done = await k3.wait(crashed.pid, { until: "terminal" });
    assert.equal(done.state, "exited", decision);
    assert.equal(k3.humanRequests({ pid: crashed.pid }).length, 1, `${decision}: not asked again`);
    assert.equal(shell2.seen.runs + shell3.seen.runs, decision === "retry" ? 1 : 0, decision);
    if (decision === "happened") assert.deepEqual(done.result, { ok: true, value: "by hand" });
  }
});

Deno.test("a retry that is itself cut short by a crash is asked about again (naming the retry), never retried on its own", async () => {
  await using dir = await _tempDir();
  const crashed = await crashWhileDeploying("ask", dir.path);
  const store2 = new CrashableStore(crashed.inner);
  const shell2 = countingShell(dir.path, { crash: store2 });
  const k2 = await boot(store2, crashed.fs, shell2.shell);
  assert.equal((await k2.wait(crashed.pid)).state, "waiting");
  const [first] = k2.humanRequests({ pid: crashed.pid });
  await k2.answer(first!.id, { decision: "retry" });
  await _until(() => store2.crashed);
  assert.equal(shell2.seen.runs, 1, "the retry ran once");
  const shell3 = countingShell(dir.path);
  await using k3 = await boot(crashed.inner, crashed.fs, shell3.shell);
  assert.equal((await k3.wait(crashed.pid)).state, "waiting");
  const requests = k3.humanRequests({ pid: crashed.pid });
  assert.deepEqual(requests.map((r) => [r.kind, r.state]), [
    ["outcome", "answered"],
    ["outcome", "pending"],
  ]);
  assert.match(
    bodyText(requests[1]!.preview),
    new RegExp(`the retry that .+ answered in ${first!.id}`),
  );
  assert.notEqual(requests[1]!.actionHash, first!.actionHash);
  await k3.answer(requests[1]!.id, { decision: "fail" });
  await k3.wait(crashed.pid, { until: "terminal" });
  assert.deepEqual((await toolResults(k3, crashed.pid)).map(outcome), ["EUNKNOWN", "ok"]);
  assert.equal(shell3.seen.runs, 0);
});

Deno.test("an image's recovery.onUnknownOutcome must be fail or ask, reported at its line and column", () => {
  const text = `{
  "id": "x", "name": "x", "version": "1",
  "model": { "provider": "scripted", "steps": [] },
  "recovery": { "onUnknownOutcome": "maybe" }
}`;
  assert.throws(
    () => parseImage(text, { file: "x.jsonc" }),
    /'x\.jsonc': 4:37 recovery\.onUnknownOutcome: expected one of "fail", "ask", received "maybe"/,
  );
  const ok = parseImage(text.replace("maybe", "ask"), { file: "x.jsonc" });
  assert.deepEqual(ok.recovery, { onUnknownOutcome: "ask" });
});

async function _tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "libos-outcome-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Waits (bounded, in real time) until `ready` holds. */
async function _until(ready: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error("timed out waiting for the crash point");
    await new Promise((r) => setTimeout(r, 1));
  }
}
