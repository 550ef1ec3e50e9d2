import assert from "node:assert/strict";
import { IsolateHost, type SandboxAuditRecord } from "./isolate_host.ts";
import { resolveLimits } from "./limits.ts";
import { toolHash } from "./tool_runner.ts";
import { fakeHostPlan } from "./testdata/fake_host_plan.ts";
const NO_PERMISSIONS = {
  env: false,
  ffi: false,
  import: false,
  net: false,
  read: false,
  run: false,
  sys: false,
  write: false,
} as const;
const SOURCE = "export default 1;";

async function startFake(scenario: string, audit: SandboxAuditRecord[]): Promise<IsolateHost> {
  const limits = resolveLimits({ messageBytes: 1 << 20 });
  const host = await IsolateHost.start({
    plan: fakeHostPlan(scenario),
    limits,
    audit: (r) => audit.push(r),
  });
  host.bind("p_1");
  return host;
}

function call(served: string[]) {
  return {
    tool: { source: SOURCE, hash: toolHash(SOURCE) },
    label: "fake",
    args: { x: 1 },
    deadlineMs: 10_000,
    permissions: NO_PERMISSIONS,
    serve: (name: string) => {
      served.push(name);
      return Promise.resolve({ now: 1, iso: "" });
    },
  };
}

Deno.test("an honest host's call returns its value", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using host = await startFake("echo", audit);
  const result = await host.run(call([]));
  assert.deepEqual(result, { ok: true, value: { x: 1 }, syscalls: 0 });
  assert.equal(host.state, "ready");
  assert.deepEqual(audit, []);
});

Deno.test("forged and malformed host messages are refused, audited, and end the host", async () => {
  const cases: Record<string, string> = {
    wrong_pid: "EINVAL a 'syscall' for process p_other, not p_1",
    skip_seq: "EINVAL syscall 2 of call 1 skips a sequence number (expected 1)",
    repeat_seq: "EINVAL syscall 1 of call 1 repeats a sequence number (expected 2)",
    not_running: "EINVAL a 'syscall' for call 8, which is not a running run",
    missing_field: "EINVAL 'syscall' message lacks field 'args'",
    proto: "EINVAL 'syscall' message.args has a '__proto__' key",
    unknown_syscall: "EINVAL 'syscall' message.name 'fs.format' is not a syscall",
    unknown_type: 'EINVAL message type "escalate" is unknown',
    oversize:
      "ELIMIT a frame from the host: a 1073741828-byte frame exceeds the 1048576-byte limit",
    bad_json: "EINVAL a frame from the host: the frame's JSON does not parse",
  };
  const seen: Record<string, string> = {};
  for (const scenario of Object.keys(cases)) {
    const audit: SandboxAuditRecord[] = [];
    const served: string[] = [];
    await using host = await startFake(scenario, audit);
    const result = await host.run(call(served));
    const refusal = audit.find((r) => r.action === "sandbox.refuse");
    assert.equal(result.ok, false, scenario);
    if (!result.ok) assert.equal(result.error.code, refusal?.detail.code, scenario);
    assert.equal(host.state, "dead", scenario);
    // A refused syscall never reaches the kernel's primitives; the honest first one of repeat_seq does.
    assert.deepEqual(served, scenario === "repeat_seq" ? ["clock.now"] : [], scenario);
    seen[scenario] = `${refusal?.detail.code} ${refusal?.detail.reason}`;
    await host.exited;
  }
  assert.deepEqual(seen, cases);
});

Deno.test("a host cannot make a call fail with a code the kernel never gave it", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using host = await startFake("fake_code", audit);
  const result = await host.run(call([]));
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.code, "ETOOL");
    assert.match(result.error.message, /let me wait/);
  }
});

Deno.test("a host that exits during a call fails the call with ETOOL, naming the exit", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using host = await startFake("exit", audit);
  const result = await host.run(call([]));
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.error.code, "ETOOL");
    assert.match(result.error.message, /isolate host exited/);
  }
  assert.equal(host.state, "dead");
});

Deno.test("a call past its deadline fails with ETIMEDOUT and kills the host", async () => {
  const audit: SandboxAuditRecord[] = [];
  // The fake host answers no run in an unknown scenario: the call can only time out.
  await using host = await startFake("silent", audit);
  const started = performance.now();
  const result = await host.run({ ...call([]), deadlineMs: 300 });
  const elapsed = performance.now() - started;
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.error.code, "ETIMEDOUT");
  assert.ok(elapsed >= 290 && elapsed < 1300, `ended after ${elapsed} ms`);
  await host.exited;
  assert.equal(host.state, "dead");
  assert.deepEqual(audit.map((r) => [r.action, r.detail.code]), [["sandbox.kill", "ETIMEDOUT"]]);
});

Deno.test("a host that reports memory past its limit during a call is killed with ENOMEM", async () => {
  const audit: SandboxAuditRecord[] = [];
  await using host = await startFake("memory_hog", audit);
  const result = await host.run(call([]));
  assert.equal(!result.ok && result.error.code, "ENOMEM");
  assert.match(!result.ok ? result.error.message : "", /past the 1024 MiB limit/);
  await host.exited;
  assert.deepEqual(audit.map((r) => [r.action, r.detail.code]), [["sandbox.kill", "ENOMEM"]]);
});
