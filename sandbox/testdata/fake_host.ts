/**
 * A stand-in isolate host for kernel-side protocol tests: it speaks frames on
 * stdio like host_main.ts, but answers each `run` with the scripted message
 * named by its first argument (a forged or malformed one, or an honest echo).
 *
 * @module
 */
import { encodeFrame, FrameReader } from "../frame.ts";

const scenario = Deno.args[0] ?? "echo";
const MAX = 1 << 20;

function send(message: Record<string, unknown>): void {
  write(encodeFrame(message, MAX));
}

function write(bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

function rawFrame(json: string): Uint8Array {
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 4 + body.length);
  view.setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

const reader = new FrameReader(Deno.stdin.readable, { maxBytes: MAX });
send({ type: "ready", version: 1 });
let pid = "";
for (;;) {
  const m = await reader.next();
  if (m === null) break;
  if (m["type"] === "bind") pid = String(m["pid"]);
  if (m["type"] !== "run") continue;
  const id = Number(m["id"]);
  const syscall = { type: "syscall", pid, id, seq: 1, name: "clock.now", args: {} };
  switch (scenario) {
    case "echo":
      send({ type: "done", pid, id, syscalls: 0, ok: true, value: m["args"] });
      break;
    case "wrong_pid":
      send({ ...syscall, pid: "p_other" });
      break;
    case "skip_seq":
      send({ ...syscall, seq: 2 });
      break;
    case "repeat_seq":
      send(syscall);
      send(syscall);
      break;
    case "not_running":
      send({ ...syscall, id: id + 7 });
      break;
    case "missing_field": {
      const { args: _, ...rest } = syscall;
      send(rest);
      break;
    }
    case "proto":
      write(rawFrame(
        `{"type":"syscall","pid":"${pid}","id":${id},"seq":1,"name":"fs.readText","args":{"path":"x","__proto__":{"admin":true}}}`,
      ));
      break;
    case "unknown_syscall":
      send({ ...syscall, name: "fs.format" });
      break;
    case "unknown_type":
      send({ type: "escalate", pid, id });
      break;
    case "oversize": {
      const header = new Uint8Array(8);
      new DataView(header.buffer).setUint32(0, 1 << 30);
      write(header);
      break;
    }
    case "bad_json":
      write(rawFrame("{not json"));
      break;
    case "fake_code":
      send({
        type: "done",
        pid,
        id,
        syscalls: 0,
        ok: false,
        error: { code: "EWAITING", message: "let me wait" },
      });
      break;
    case "memory_hog":
      send({ type: "memory", rss: 2 ** 40 });
      break;
    case "exit":
      Deno.exit(3);
  }
}
