/**
 * The JIT tool primitives: propose a tool the agent wrote (checked,
 * type-checked and tested in an isolate) and register an accepted one in the
 * process's tool table (needs `tool` register).
 *
 * @module
 */
import { libosError } from "../errors.ts";
import type { SyscallEngine } from "../engine/engine.ts";

/**
 * Checks a tool the agent wrote: static check, type-check, its tests in an
 * isolate against a mock `sys`. Answers `{candidate, accepted, …}`; the
 * report of a refused proposal comes back to the model. The proposal is
 * journaled, so a replay never re-runs its tests.
 */
export function proposeTool(
  e: SyscallEngine,
  source: string,
  tests: unknown[] = [],
): Promise<Record<string, unknown>> {
  const args = { source, tests };
  return e.syscall("tool.propose", args, async (c) => {
    const host = e.k.toolHost;
    if (host?.propose === undefined) {
      throw libosError(
        "EINVAL",
        "Cannot propose a tool: this kernel has no sandbox to test it in",
      );
    }
    const r = await host.propose(e.pid, { source, tests });
    e.audit(c.audit, {
      detail: {
        candidate: r.candidate,
        accepted: r.ok,
        ...(r.ok ? { name: r.name } : { stage: r.stage }),
      },
    });
    if (!r.ok) {
      return { candidate: r.candidate, accepted: false, stage: r.stage, report: r.report };
    }
    const known = e.p.jitTools.find((t) => t.hash === r.candidate);
    if (known === undefined) {
      e.p.jitTools.push({
        name: r.name,
        hash: r.candidate,
        source,
        description: r.description,
        inputSchema: r.inputSchema,
        proposedBy: e.pid,
        step: e.p.usage.steps,
        registered: false,
      });
      e.k.records.saveProcess(e.batch, e.p);
    }
    return { candidate: r.candidate, accepted: true, name: r.name, tests: r.tests };
  });
}

/** Puts an accepted proposal into this process's tool table (needs `tool` register). */
export function registerTool(
  e: SyscallEngine,
  candidate: string,
): Promise<{ name: string; candidate: string }> {
  return e.syscall("tool.register", { candidate }, (c) => {
    const authz = e.authorize(c, c.audit, "tool", "register", {
      args: { candidate },
      preview: `register tool ${candidate}`,
    });
    const t = e.p.jitTools.find((x) => x.hash === candidate);
    if (t === undefined) {
      throw libosError(
        "ENOENT",
        `Cannot register tool '${candidate}': process ${e.pid} has no accepted proposal with that hash`,
        { pid: e.pid },
      );
    }
    const taken = e.k.isToolName(t.name) ||
      e.p.jitTools.some((x) => x.registered && x.name === t.name && x.hash !== t.hash);
    if (taken) {
      throw libosError(
        "EEXIST",
        `Cannot register tool '${t.name}': the name is taken in process ${e.pid}'s tool table`,
        { pid: e.pid },
      );
    }
    t.registered = true;
    if (!e.p.tools.includes(t.name)) e.p.tools.push(t.name);
    e.k.records.saveProcess(e.batch, e.p);
    e.allowed(authz, {
      name: t.name,
      candidate,
      proposedBy: t.proposedBy,
      step: t.step,
    });
    return Promise.resolve({ name: t.name, candidate });
  });
}
