/**
 * The syscall table: a syscall by name (`"fs.readText"`, `"obj.create"`, …)
 * with its arguments as an object, dispatched to the primitive that serves
 * it. The sandbox's proxy and any other caller outside the step loop go
 * through this one table, so every path reaches the same primitives.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { GrantSpec } from "../images/schemas.ts";
import type { Syscalls } from "./syscalls.ts";
import type { SysName } from "../primitives/table.ts";

type _Args = Record<string, unknown>;
type _Entry = (sys: Syscalls, a: _Args) => Promise<unknown>;

const _str = (a: _Args, key: string): string => a[key] as string;
const _opt = <T>(a: _Args, key: string): T | undefined =>
  a[key] === undefined ? undefined : a[key] as T;

/**
 * Every syscall a sandboxed tool may make, by its name in the primitives' name
 * table: all but proposing or registering tools and checkpointing, which
 * belong to the model's own turn.
 */
const TABLE: Readonly<Partial<Record<SysName, _Entry>>> = {
  "fs.readText": (s, a) => s.readText(_str(a, "path")),
  "fs.readBytes": (s, a) => s.readBytes(_str(a, "path")),
  "fs.write": (s, a) => s.write(_str(a, "path"), a["data"] as string | Uint8Array),
  "fs.list": (s, a) => s.list(_str(a, "path")),
  "fs.stat": (s, a) => s.stat(_str(a, "path")),
  "fs.delete": (s, a) => s.delete(_str(a, "path")),
  "fs.mkdir": (s, a) => s.mkdir(_str(a, "path")),
  "obj.create": (s, a) => {
    const ns = _opt<string>(a, "namespace");
    const input = { name: _str(a, "name"), type: _str(a, "type"), payload: a["payload"] };
    return s.create(ns === undefined ? input : { ...input, namespace: ns });
  },
  "obj.read": (s, a) => s.read(_str(a, "ref")),
  "obj.write": (s, a) => s.writeObject(_str(a, "ref"), a["payload"]),
  "obj.list": (s, a) => s.listObjects(_opt<string>(a, "namespace")),
  "obj.link": (s, a) => s.link(_str(a, "from"), _str(a, "rel"), _str(a, "to")),
  "obj.delete": (s, a) => s.deleteObject(_str(a, "ref")),
  "obj.fromFile": (s, a) =>
    s.fileToObject(_str(a, "path"), _str(a, "name"), _opt<string>(a, "type")),
  "obj.toFile": (s, a) => s.objectToFile(_str(a, "ref"), _str(a, "path")),
  "human.ask": (s, a) => s.ask(_str(a, "question")),
  "human.notify": (s, a) => s.notify(_str(a, "message")),
  "human.requestPermission": (s, a) =>
    s.requestPermission(_str(a, "resource"), a["rights"] as string[], _str(a, "reason")),
  "proc.spawn": (s, a) => {
    const image = _opt<string>(a, "image");
    const capabilities = _opt<GrantSpec[]>(a, "capabilities");
    return s.spawn({
      goal: _str(a, "goal"),
      ...(image === undefined ? {} : { image }),
      ...(capabilities === undefined ? {} : { capabilities }),
    });
  },
  "proc.fork": (s, a) => {
    const capabilities = _opt<GrantSpec[]>(a, "capabilities");
    const objects = _opt<string[]>(a, "objects");
    return s.fork({
      goal: _str(a, "goal"),
      ...(capabilities === undefined ? {} : { capabilities }),
      ...(objects === undefined ? {} : { objects }),
    });
  },
  "proc.wait": (s, a) => s.wait(_str(a, "pid")),
  "proc.signal": (s, a) =>
    s.signal(_str(a, "pid"), a["signal"] as "pause" | "resume" | "cancel" | "kill"),
  "proc.exit": (s, a) => s.exit(a["result"]),
  "proc.cwd": (s) => s.cwd(),
  "proc.chdir": (s, a) => s.chdir(_str(a, "path")),
  "net.fetch": (s, a) => {
    const method = _opt<string>(a, "method");
    const headers = _opt<Record<string, string>>(a, "headers");
    const body = _opt<string>(a, "body");
    return s.fetch({
      url: _str(a, "url"),
      ...(method === undefined ? {} : { method }),
      ...(headers === undefined ? {} : { headers }),
      ...(body === undefined ? {} : { body }),
    });
  },
  "shell.run": (s, a) => {
    const timeoutMs = _opt<number>(a, "timeoutMs");
    return s.runShell(a["argv"] as string[], timeoutMs === undefined ? {} : { timeoutMs });
  },
  "clock.now": (s) => s.now(),
  "clock.sleep": (s, a) => s.sleep(a["ms"] as number),
  "mbox.send": (s, a) => {
    const type = _opt<string>(a, "type");
    return s.sendMessage({
      to: _str(a, "to"),
      body: a["body"],
      ...(type === undefined ? {} : { type }),
    });
  },
  "mbox.receive": (s, a) => {
    const from = _opt<string>(a, "from");
    const timeoutMs = _opt<number>(a, "timeoutMs");
    return s.receiveMessage({
      ...(from === undefined ? {} : { from }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  },
};

/** Every syscall name. */
export function syscallNames(): string[] {
  return Object.keys(TABLE);
}

/**
 * Serves one syscall by name. The arguments' shapes are the caller's to
 * check (the sandbox checks them before they reach here); each primitive
 * checks its own values again.
 */
export function dispatchSyscall(
  sys: Syscalls,
  name: string,
  args: Record<string, unknown>,
): Promise<unknown> {
  const entry = Object.hasOwn(TABLE, name) ? TABLE[name as SysName] : undefined;
  if (entry === undefined) {
    return Promise.reject(libosError("EINVAL", `Cannot make syscall '${name}': no such syscall`));
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return Promise.reject(
      libosError("EINVAL", `Cannot make syscall '${name}': arguments must be an object`),
    );
  }
  return entry(sys, args);
}
