/**
 * The process primitives: spawn, fork, wait, signal, exit and the working
 * directory. A spawned or forked child and a signal's effect are made in the
 * call's batch, so they commit with the syscall's result: a replay returns
 * the same child and never signals twice.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { GrantSpec } from "../images/schemas.ts";
import { GrantSpecSchema } from "../images/schemas.ts";
import { isTerminal } from "../process/lifecycle.ts";
import type { Pid, ProcessRecord } from "../types.ts";
import type { SyscallEngine } from "../engine/engine.ts";
import { jsonSafe } from "../engine/json_safe.ts";
import { workspacePath } from "./fs.ts";

/** The result of `proc.wait`. */
export interface WaitResult {
  pid: Pid;
  state: string;
  result: unknown;
  reason: string | null;
}

/** Spawns a child from an image (default: the caller's). */
export function spawn(
  e: SyscallEngine,
  input: { goal: string; image?: string; capabilities?: GrantSpec[] },
): Promise<{ pid: Pid }> {
  return e.syscall("proc.spawn", input, async (c) => {
    const authz = e.authorize(c, c.audit, "proc", "spawn", {
      args: input,
      preview: `spawn a child (${input.image ?? e.p.imageId}) to: ${input.goal}`,
    });
    const child = await e.k.spawner.spawn(
      {
        image: input.image ?? e.p.imageId,
        goal: input.goal,
        capabilities: (input.capabilities ?? []).map(parseSpec),
      },
      { actor: `pid:${e.pid}`, parent: e.p, forkOf: null, batch: e.batch },
    );
    e.allowed(authz, { child: child.pid });
    return { pid: child.pid };
  });
}

/** Forks the caller: same image, cwd and tools; only named grants; named objects read-only. */
export function fork(
  e: SyscallEngine,
  input: { goal: string; capabilities?: GrantSpec[]; objects?: string[] },
): Promise<{ pid: Pid }> {
  return e.syscall("proc.fork", input, async (c) => {
    const authz = e.authorize(c, c.audit, "proc", "fork", {
      args: input,
      preview: `fork to: ${input.goal}`,
    });
    // The child is created in this call's batch: it commits with the
    // syscall's result, so a replay returns this child instead of forking again.
    const child = await e.k.spawner.fork(e.p, {
      goal: input.goal,
      capabilities: (input.capabilities ?? []).map(parseSpec),
      objects: input.objects ?? [],
    }, { actor: `pid:${e.pid}`, batch: e.batch });
    e.allowed(authz, { child: child.pid });
    return { pid: child.pid };
  });
}

/** Waits for a child to end; returns its state and result. */
export function wait(e: SyscallEngine, pid: Pid): Promise<WaitResult> {
  return e.syscall("proc.wait", { pid }, (c) => {
    const child = _child(e, "wait for", pid);
    if (isTerminal(child.state)) {
      e.audit(c.audit, {
        resource: "proc",
        decision: "allow",
        detail: { child: pid, state: child.state },
      });
      return Promise.resolve({
        pid,
        state: child.state,
        result: child.result,
        reason: child.reason,
      });
    }
    e.park(c, { kind: "child", pid }, { child: pid });
  });
}

/** Signals a descendant. */
export function signal(
  e: SyscallEngine,
  pid: Pid,
  signal: "pause" | "resume" | "cancel" | "kill",
): Promise<{ pid: Pid; state: string }> {
  return e.syscall("proc.signal", { pid, signal }, (c) => {
    const authz = e.authorize(c, c.audit, "proc", "signal", {
      args: { pid, signal },
      preview: `${signal} ${pid}`,
    });
    _child(e, "signal", pid);
    e.allowed(authz, { target: pid, signal });
    // In this call's batch: the signal lands with the syscall's result.
    const after = e.k.signal(e.batch, { pid, signal, actor: `pid:${e.pid}` });
    return Promise.resolve({ pid, state: after.state });
  });
}

function _child(e: SyscallEngine, verb: string, pid: unknown): ProcessRecord {
  const child = typeof pid === "string" ? e.k.procs.find(pid) : undefined;
  if (child === undefined || !child.lineage.includes(e.pid)) {
    throw libosError(
      "ENOENT",
      `Cannot ${verb} process '${String(pid)}': it is not a descendant of ${e.pid}`,
      { pid: e.pid },
    );
  }
  return child;
}

/** Ends the calling process with a result. */
export function exit(e: SyscallEngine, result: unknown): Promise<{ exited: true }> {
  return e.syscall("proc.exit", { result }, () => {
    e.p.result = jsonSafe(result) ?? null;
    e.k.lifecycle.transition(e.batch, e.p, "exited", {
      reason: "exit",
      actor: `pid:${e.pid}`,
    });
    return Promise.resolve({ exited: true as const });
  });
}

/** The working directory. */
export function cwd(e: SyscallEngine): Promise<{ cwd: string }> {
  return e.syscall("proc.cwd", {}, () => Promise.resolve({ cwd: e.p.cwd }));
}

/** Changes the working directory (it never leaves the workspace). */
export function chdir(e: SyscallEngine, path: string): Promise<{ cwd: string }> {
  return e.syscall("proc.chdir", { path }, (c) => {
    const next = workspacePath(e, c.audit, path);
    e.p.cwd = next;
    e.k.records.saveProcess(e.batch, e.p);
    e.audit(c.audit, { detail: { cwd: next } });
    return Promise.resolve({ cwd: next });
  });
}

/** A grant spec from a tool, validated (EINVAL names the field). */
export function parseSpec(spec: unknown): GrantSpec {
  const parsed = GrantSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw libosError(
      "EINVAL",
      `Cannot use grant ${JSON.stringify(spec)}: ${issue?.path.join(".")}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
