/**
 * The shell primitive: `run` a program (argv, no shell) under a
 * `shell:<program> <args>` grant, with the workspace view its fs grants give
 * (runtime/substrate/shell_view.ts) and the network only through the kernel's
 * proxy under its `net:` grants.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { covers, isLive, overlaps, shellResource } from "../capability/capability.ts";
import { computeShellView, type ShellView } from "../substrate/shell_view.ts";
import type { KernelCore } from "../kernel_core.ts";
import type { Pid } from "../types.ts";
import { ShellNetProxy, type ShellNetProxyOptions } from "../substrate/shell_proxy.ts";
import { fsResource, resolvePath } from "../substrate/workspace_path.ts";
import type { Authz, Evidence, SyscallEngine } from "../engine/engine.ts";
import { fileEvidence } from "./fs.ts";
import { isHostCheck, netRequest, port, special } from "./net.ts";

/** The result of `shell.run`. */
export interface ShellRunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  confined: boolean;
}

/**
 * Runs a program (argv, no shell) under a `shell:<program> <args>` grant,
 * in the process cwd. The program sees the cwd subtree exactly as the
 * process's fs grants show it (see runtime/shell_view.ts: deny and ungranted
 * paths hidden, read-only where only read is held); where part of it is
 * under an `ask` grant the run needs a human's approval naming the program
 * and those paths, and a one-time grant there is spent per run. It never
 * gets the host network: with a live `net:` grant it reaches the network
 * through the kernel's proxy, which decides, audits and spends each
 * connection as a request of its own.
 */
export function runShell(
  e: SyscallEngine,
  argv: string[],
  options: { timeoutMs?: number } = {},
): Promise<ShellRunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const args = { argv, timeoutMs };
  return e.syscall("shell.run", args, async (c) => {
    const k = e.k;
    if (
      !Array.isArray(argv) || argv.length === 0 ||
      argv.some((a) => typeof a !== "string" || a.includes("\u0000"))
    ) {
      throw libosError(
        "EINVAL",
        "Cannot run a program: argv must be a non-empty list of strings without NUL bytes",
      );
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw libosError(
        "EINVAL",
        `Cannot run '${argv[0]}': timeoutMs must be 1 to 600,000, got ${timeoutMs}`,
      );
    }
    const resource = shellResource(argv[0]!, argv.slice(1));
    const shown = argv.map((a) => JSON.stringify(a)).join(" ");
    const authz = e.authorize(c, c.audit, resource, "exec", {
      args,
      preview: `run ${shown} in /${e.p.cwd}`,
    });
    const shell = k.shell;
    if (shell === null) {
      throw libosError("EINVAL", "Cannot run a program: this kernel has no shell provider");
    }
    const real = await k.fs.realPath(e.p.cwd);
    const decide = (r: string, right: "read" | "write") => k.authorizer.decide(e.pid, r, right);
    // No program runs where the process may not read at all.
    const here = decide(fsResource(real), "read");
    if (here.decision === "deny") {
      throw e.deny(c.audit, fsResource(real), "read", here.grant, {
        reason: "no fs read capability on the working directory",
      });
    }
    let view = await programView(k, e.pid, real);
    // Parts of the subtree under an ask or a one-time grant: the run goes
    // through those grants (one approval naming the program and the paths;
    // a use spent per run), or it does not happen.
    const through: Authz[] = [];
    if (view.gating.length > 0) {
      const asks = view.gating.filter((g) => g.reason === "ask");
      // A redo (a human answered retry) runs under the approval its intent spent.
      if (asks.length > 0 && !e.redo(c)) {
        const first = k.grants.get(asks[0]!.grantId) ?? null;
        through.push(e.ask(c, c.audit, asks[0]!.resource, "read", first, {
          args: { argv, grants: asks.map((g) => g.grantId) },
          preview: `run ${shown} in /${real}, which would see ${
            asks.map((g) => `${g.resource} (grant ${g.grantId})`).join(", ")
          }`,
        }));
      }
      for (const g of view.gating) {
        const grant = k.grants.get(g.grantId) ?? null;
        if (g.reason !== "uses" || grant === null) continue;
        through.push({
          action: c.audit,
          resource: g.resource,
          right: "read",
          grant,
          request: null,
          spent: false,
        });
      }
      view = await programView(k, e.pid, real, new Set(view.gating.map((g) => g.grantId)));
    }
    const network = hasNetwork(k, e.pid);
    await e.effect(c, [authz, ...through], { cwd: real }, {
      network,
      view: view.walked,
      through: through.map((a) => a.grant?.id ?? null),
    });
    await using proxy = network
      ? await ShellNetProxy.start({ authorize: proxiedConnection(() => e, { via: "shell" }) })
      : null;
    const r = await shell.run({
      argv,
      cwd: real,
      view: view.entries,
      proxy: proxy === null ? null : { socketPath: proxy.socketPath },
      timeoutMs,
    });
    return {
      code: r.code,
      signal: r.signal,
      stdout: new TextDecoder().decode(r.stdout),
      stderr: new TextDecoder().decode(r.stderr),
      truncated: r.truncated,
      timedOut: r.timedOut,
      confined: r.confined,
    };
  }, { evidence: _evidence(e, argv) });
}

/**
 * What the kernel can observe of a run found in flight after a crash: the
 * program and where it ran, and each argument that names a path in the
 * workspace (a file's size and sha-256, or that it is absent).
 */
function _evidence(e: SyscallEngine, argv: string[]): Evidence {
  return async (intent) => {
    const cwd = typeof intent["cwd"] === "string" ? intent["cwd"] : e.p.cwd;
    const lines = [`program ${JSON.stringify(argv[0] ?? "")} ran in /${cwd}`];
    for (const arg of argv.slice(1, 65)) {
      if (arg === "" || arg.startsWith("-") || /\s/.test(arg)) continue;
      let path: string;
      try {
        path = resolvePath(cwd, arg);
      } catch {
        continue; // not a workspace path
      }
      const seen = await fileEvidence(e, path).catch((error: Error) =>
        `unreadable (${error.message})`
      );
      // An absent word is no file target; an absent file name is evidence.
      if (seen === null && !/[./]/.test(arg)) continue;
      lines.push(`/${path}: ${seen ?? "absent"}`);
    }
    if (lines.length === 1) lines.push("no argument names a path in the workspace");
    return lines;
  };
}

/**
 * What a program started for `pid` in the real workspace folder `real` sees
 * of the workspace: the view its fs grants give (see
 * runtime/substrate/shell_view.ts); parts behind an `ask` or one-time grant
 * are hidden unless their grant is in `granted`.
 */
export function programView(
  k: KernelCore,
  pid: Pid,
  real: string,
  granted?: ReadonlySet<string>,
): Promise<ShellView> {
  const shell = k.shell;
  if (shell === null) {
    return Promise.reject(
      libosError("EINVAL", "Cannot start a program: this kernel has no shell provider"),
    );
  }
  const decide = (r: string, right: "read" | "write") => k.authorizer.decide(pid, r, right);
  // Below a folder no fs grant can tell paths apart, the view need not walk.
  const patterns = k.grants.of(pid).filter((g) =>
    g.resource.startsWith("fs:") && isLive(g, k.clock.now())
  ).map((g) => g.resource.slice(3));
  const uniformBelow = (path: string) => {
    const below = path === "" ? "**" : `${path}/**`;
    return patterns.every((p) => covers(p, below, "fs") || !overlaps(p, below, "fs"));
  };
  return computeShellView({
    workspace: shell.workspace,
    cwd: real,
    decide,
    uniformBelow,
    ...(granted === undefined ? {} : { granted: new Set(granted) }),
  });
}

/**
 * Whether a program started for `pid` gets the kernel's network proxy: the
 * kernel has a network provider and the process holds a live `net:` grant
 * allowing `fetch` (each connection is still decided on its own).
 */
export function hasNetwork(k: KernelCore, pid: Pid): boolean {
  return k.net !== null &&
    k.grants.of(pid).some((g) =>
      g.effect === "allow" && g.resource.startsWith("net:") && g.rights.includes("fetch") &&
      isLive(g, k.clock.now())
    );
}

/**
 * The kernel's side of a program's proxy: each connection is a network
 * request of the process's own, decided, audited (with `detail`) and spent,
 * and committed, before the proxy connects; the address connected is the one
 * decided. `engine` gives the engine a connection is decided through: the
 * tool call's own for `run_shell`, a fresh one per connection for an MCP
 * server, whose connections happen outside any tool call.
 */
export function proxiedConnection(
  engine: () => SyscallEngine,
  detail: Record<string, unknown>,
): ShellNetProxyOptions["authorize"] {
  return async (target, { signal }) => {
    const e = engine();
    const net = e.k.net;
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    try {
      if (net === null) throw libosError("EPERM", "this kernel has no network provider");
      const url = new URL(`http://${host}:${target.port}/`);
      const address = await net.resolve(url, {
        signal,
        authorize: (hop, a) =>
          isHostCheck(hop, a) ? netRequest(e, hop, a, detail) : special(e, hop, a, port(hop)),
      });
      await e.k.records.commit(e.batch);
      return { ok: true, address };
    } catch (error) {
      await e.k.records.commit(e.batch);
      return { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
  };
}
