/**
 * The argument schemas of the syscalls a tool makes through `sys`, checked in
 * the kernel before a syscall reaches its primitive. A tool that passes a
 * wrong type gets `EINVAL` back, as data, like any other failed syscall.
 *
 * @module
 */
import { z } from "zod";
import { GrantSpecSchema, libosError } from "../runtime/mod.ts";
import type { SyscallArgs, SyscallName } from "./protocol.ts";

const path = z.string().min(1).max(4096);
const ref = z.string().min(1).max(1024);
const grants = z.array(GrantSpecSchema).max(64);

/** One zod schema per syscall, for the `args` object of {@linkcode SyscallName}. */
export const SYSCALL_ARGS = {
  "fs.readText": z.strictObject({ path }),
  "fs.readBytes": z.strictObject({ path }),
  "fs.write": z.strictObject({ path, data: z.union([z.string(), z.instanceof(Uint8Array)]) }),
  "fs.list": z.strictObject({ path: z.string().max(4096) }),
  "fs.stat": z.strictObject({ path }),
  "fs.delete": z.strictObject({ path }),
  "fs.mkdir": z.strictObject({ path }),
  "obj.create": z.strictObject({
    name: z.string().min(1).max(256),
    type: z.string().min(1).max(64),
    payload: z.unknown(),
    namespace: z.string().min(1).max(256).optional(),
  }),
  "obj.read": z.strictObject({ ref }),
  "obj.write": z.strictObject({ ref, payload: z.unknown() }),
  "obj.list": z.strictObject({ namespace: z.string().min(1).max(256).optional() }),
  "obj.link": z.strictObject({ from: ref, rel: z.string().min(1).max(64), to: ref }),
  "obj.delete": z.strictObject({ ref }),
  "obj.fromFile": z.strictObject({
    path,
    name: z.string().min(1).max(256),
    type: z.string().min(1).max(64).optional(),
  }),
  "obj.toFile": z.strictObject({ ref, path }),
  "human.ask": z.strictObject({ question: z.string().min(1).max(10_000) }),
  "human.notify": z.strictObject({ message: z.string().min(1).max(10_000) }),
  "human.requestPermission": z.strictObject({
    resource: z.string().min(1).max(1024),
    rights: z.array(z.string().min(1).max(32)).min(1).max(16),
    reason: z.string().max(10_000),
  }),
  "proc.spawn": z.strictObject({
    goal: z.string().min(1).max(100_000),
    image: z.string().min(1).max(128).optional(),
    capabilities: grants.optional(),
  }),
  "proc.fork": z.strictObject({
    goal: z.string().min(1).max(100_000),
    capabilities: grants.optional(),
    objects: z.array(ref).max(256).optional(),
  }),
  "proc.wait": z.strictObject({ pid: z.string().min(1).max(64) }),
  "proc.signal": z.strictObject({
    pid: z.string().min(1).max(64),
    signal: z.enum(["pause", "resume", "cancel", "kill"]),
  }),
  "proc.exit": z.strictObject({ result: z.unknown() }),
  "proc.cwd": z.strictObject({}),
  "proc.chdir": z.strictObject({ path: z.string().max(4096) }),
  "net.fetch": z.strictObject({
    url: z.string().min(1).max(8192),
    method: z.string().max(16).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().max(1 << 20).optional(),
  }),
  "shell.run": z.strictObject({
    argv: z.array(z.string().max(4096)).min(1).max(256),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
  }),
  "clock.now": z.strictObject({}),
  "clock.sleep": z.strictObject({ ms: z.number().int().nonnegative().max(86_400_000) }),
  "mbox.send": z.strictObject({
    to: z.string().min(1).max(256),
    type: z.string().min(1).max(64).optional(),
    body: z.unknown(),
  }),
  "mbox.receive": z.strictObject({
    from: z.string().min(1).max(256).optional(),
    timeoutMs: z.number().int().nonnegative().max(604_800_000).optional(),
  }),
} as const satisfies Record<SyscallName, z.ZodType>;

/** The checked arguments of syscall `name`. */
export type SyscallArgsOf<N extends SyscallName> = z.infer<(typeof SYSCALL_ARGS)[N]>;

/** Checks a syscall's arguments; throws `EINVAL` naming each bad field. */
export function checkSyscallArgs(name: SyscallName, args: SyscallArgs): SyscallArgs {
  const parsed = SYSCALL_ARGS[name].safeParse(args);
  if (parsed.success) return parsed.data as SyscallArgs;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(args)"}: ${i.message}`);
  throw libosError("EINVAL", `Cannot run ${name}: ${issues.join("; ")}`);
}
