import assert from "node:assert/strict";
import { parseHostMessage, parseKernelMessage, parseWorkerMessage, SYSCALLS } from "./protocol.ts";

const SYSCALL = {
  type: "syscall",
  pid: "p_1",
  id: 1,
  seq: 1,
  name: "fs.readText",
  args: { path: "a" },
};

function reason(raw: unknown): string {
  const parsed = parseHostMessage(raw);
  return parsed.ok ? "accepted" : parsed.reason;
}

Deno.test("a well-formed host message is accepted as typed data", () => {
  assert.deepEqual(parseHostMessage(SYSCALL), { ok: true, message: SYSCALL });
  const done = {
    type: "done",
    pid: "p_1",
    id: 2,
    syscalls: 3,
    ok: false,
    error: { code: "EPERM", message: "no" },
  };
  assert.deepEqual(parseHostMessage(done), { ok: true, message: done });
});

Deno.test("forged and malformed host messages are refused with a reason", () => {
  const proto = JSON.parse('{"path": "a", "__proto__": {"admin": true}}');
  const deep: Record<string, unknown> = {};
  let node = deep;
  for (let i = 0; i < 70; i++) node = (node["a"] = {}) as Record<string, unknown>;
  const refused = {
    array: reason([SYSCALL]),
    noType: reason({ ...SYSCALL, type: undefined }),
    unknownType: reason({ ...SYSCALL, type: "grant" }),
    missingArgs: reason({ type: "syscall", pid: "p_1", id: 1, seq: 1, name: "clock.now" }),
    extraField: reason({ ...SYSCALL, capability: "fs:**" }),
    badPid: reason({ ...SYSCALL, pid: "p 1; rm" }),
    zeroSeq: reason({ ...SYSCALL, seq: 0 }),
    fractionalId: reason({ ...SYSCALL, id: 1.5 }),
    unknownSyscall: reason({ ...SYSCALL, name: "fs.chmod" }),
    inheritedName: reason({ ...SYSCALL, name: "toString" }),
    wrongArgs: reason({ ...SYSCALL, args: { file: "a" } }),
    protoArgs: reason({ ...SYSCALL, args: proto }),
    tooDeep: reason({ ...SYSCALL, name: "obj.write", args: { ref: "r", payload: deep } }),
    classInstance: reason({ ...SYSCALL, args: { path: new Date() } }),
    badCode: reason({
      type: "done",
      pid: "p_1",
      id: 1,
      syscalls: 0,
      ok: false,
      error: { code: "nope", message: "" },
    }),
    okWithError: reason({
      type: "done",
      pid: "p_1",
      id: 1,
      syscalls: 0,
      ok: true,
      error: { code: "EPERM", message: "" },
    }),
  };
  assert.deepEqual(refused, {
    array: "message is not an object",
    noType: "message type undefined is unknown",
    unknownType: 'message type "grant" is unknown',
    missingArgs: "'syscall' message lacks field 'args'",
    extraField: "'syscall' message has an unexpected field 'capability'",
    badPid: "'syscall' message.pid is not a pid",
    zeroSeq: "'syscall' message.seq is not an integer ≥ 1",
    fractionalId: "'syscall' message.id is not an integer ≥ 1",
    unknownSyscall: "'syscall' message.name 'fs.chmod' is not a syscall",
    inheritedName: "'syscall' message.name 'toString' is not a syscall",
    wrongArgs: "'syscall' message.args has an unexpected field 'file'",
    protoArgs: "'syscall' message.args has a '__proto__' key",
    tooDeep: "'syscall' message.args is nested deeper than 64",
    classInstance: "'syscall' message.args is not a plain object",
    badCode: "'done' message.error.code is not an error code",
    okWithError: "'done' message has an unexpected field 'error'",
  });
});

Deno.test("a kernel message may not grant a worker any direct permission", () => {
  const run = {
    type: "run",
    id: 1,
    tool: { hash: `sha256:${"0".repeat(64)}`, source: "" },
    args: {},
    permissions: {
      env: false,
      ffi: false,
      import: false,
      net: false,
      read: false,
      run: false,
      sys: false,
      write: false,
    },
  };
  assert.equal(parseKernelMessage(run).ok, true);
  const escalated = parseKernelMessage({
    ...run,
    permissions: { ...run.permissions, read: ["/"] },
  });
  assert.deepEqual(escalated, { ok: false, reason: "'run' message.permissions.read is not false" });
});

Deno.test("a worker message cannot carry a pid: the host stamps it", () => {
  const { pid: _, ...fromWorker } = SYSCALL;
  assert.equal(parseWorkerMessage(fromWorker).ok, true);
  assert.deepEqual(parseWorkerMessage(SYSCALL), {
    ok: false,
    reason: "worker 'syscall' message has an unexpected field 'pid'",
  });
});

Deno.test("the syscall table names every ToolSys method once, dotted", () => {
  assert.equal(Object.keys(SYSCALLS).length, 31);
  for (const name of Object.keys(SYSCALLS)) {
    assert.match(name, /^(fs|obj|human|proc|net|shell|clock|mbox)\.[a-zA-Z]+$/);
  }
});

Deno.test("a 'denied' report names a known kind and a bounded api, or is refused", () => {
  const denied = {
    type: "denied",
    pid: "p_1",
    id: 3,
    kind: "read",
    api: "Deno.readTextFile",
    message: "Requires read access",
  };
  assert.deepEqual(parseHostMessage(denied), { ok: true, message: denied });
  const { pid: _pid, ...fromWorker } = denied;
  assert.deepEqual(parseWorkerMessage(fromWorker), { ok: true, message: fromWorker });
  assert.deepEqual(
    {
      kind: reason({ ...denied, kind: "root" }),
      api: reason({ ...denied, api: "x".repeat(129) }),
      noCall: reason({ ...denied, id: 0 }),
      extra: reason({ ...denied, decision: "allow" }),
    },
    {
      kind:
        "'denied' message.kind 'root' is not one of read, write, net, env, run, ffi, sys, import, code, global, syscall",
      api: "'denied' message.api is longer than 128",
      noCall: "'denied' message.id is not an integer ≥ 1",
      extra: "'denied' message has an unexpected field 'decision'",
    },
  );
});
