/**
 * The MCP primitives: a call of a server's tool (`<server>.<tool>` in the
 * tool table, capability `mcp:<server>/<tool>` right `call`) and a resource
 * read (`mcp_read_resource`, `mcp:<server>/resource:<uri>` right `read`).
 * Each is one syscall through the engine: decided by the one Authorizer
 * (deny, ask, uses, expiry), its intent, spend and audit committed before the
 * request leaves the kernel, its result journaled and kept as an object. A
 * tool call is not redone after a crash (EUNKNOWN, or whatever recovery the
 * engine applies to an unknown outcome) unless the operator trusts the
 * server's annotations and they say it is read-only or idempotent.
 *
 * The tool table is built from the server the first time, and each tool's
 * definition pinned in the process record (runtime/mcp/pinning.ts). A tool
 * whose definition changed since is refused (`EPERM`, "definition changed")
 * and an operator is asked to approve the new one (a `tool_change` request
 * whose preview shows the diff); once approved, the next call pins it.
 *
 * A stdio server runs per process, started through the shell substrate like
 * a `run_shell` program: under bubblewrap, seeing the workspace as the
 * process's fs grants show it (ask and one-time parts hidden), plus its
 * config's `readOnly` folders and its program, with only its config's `env`
 * and never the host's network. When the process holds a live `net:` fetch
 * grant as the server starts, the server gets the kernel's proxy (as
 * `run_shell` does): each connection it opens, whenever it opens it, is a
 * network request of the process's own, decided by the one Authorizer under
 * the same `net:` rules, audited (`net.fetch`, with the server's name) and
 * spent in a batch of its own before the proxy connects. Without one it has
 * no network at all.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { Batch } from "../engine/batch.ts";
import { actionHash, SyscallEngine } from "../engine/engine.ts";
import { jsonSafe } from "../engine/json_safe.ts";
import type { KernelCore } from "../kernel_core.ts";
import type { McpServerConfig } from "../mcp/config.ts";
import type { McpConnect, McpSession } from "../mcp/mcp_session.ts";
import { ProcessTransport } from "../mcp/process_transport.ts";
import { type McpSdk, mcpSdk } from "../mcp/sdk.ts";
import {
  diffDefinitions,
  idempotentByAnnotations,
  type McpToolDescription,
  pinOf,
} from "../mcp/pinning.ts";
import type { ToolSpec } from "../models/model_provider.ts";
import { resolvePath } from "../substrate/workspace_path.ts";
import type { McpPin, Pid, ProcessRecord } from "../types.ts";
import { hasNetwork, programView, proxiedConnection } from "./shell.ts";
import { ShellNetProxy } from "../substrate/shell_proxy.ts";

/** What an MCP tool call answers: the server's result and the object it is kept in. */
export interface McpCallResult {
  content: unknown[];
  structuredContent?: unknown;
  isError: boolean;
  /** The `tool_result` object holding the result. */
  object: string;
}

/** The MCP tool a tool-table name names, when the process's image asks for it. */
export function mcpToolOf(
  k: KernelCore,
  p: ProcessRecord,
  name: string,
): { server: string; tool: string } | null {
  const dot = name.indexOf(".");
  if (dot <= 0 || k.mcp === null) return null;
  const server = name.slice(0, dot);
  const tool = name.slice(dot + 1);
  const servers = k.spawner.image(p).mcp ?? {};
  const wanted = Object.hasOwn(servers, server) ? servers[server] : undefined;
  if (wanted === undefined || !_wants(wanted, tool)) return null;
  return { server, tool };
}

/** Whether a tool name matches one of the image's names or `*` globs. */
function _wants(patterns: readonly string[], tool: string): boolean {
  return patterns.some((pattern) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`)
      .test(tool)
  );
}

/**
 * The MCP tools of a process's tool table, as the model sees them: each
 * wanted tool of each server the image names, with its pinned definition. A
 * tool seen for the first time is pinned (in `batch`, audited `mcp.pin`). A
 * server that cannot be reached contributes no tools (its calls then say why).
 */
export async function mcpToolSpecs(
  k: KernelCore,
  p: ProcessRecord,
  batch: Batch,
): Promise<ToolSpec[]> {
  if (k.mcp === null) return [];
  const out: ToolSpec[] = [];
  for (const [server, patterns] of Object.entries(k.spawner.image(p).mcp ?? {})) {
    let tools: McpToolDescription[];
    try {
      tools = await _session(k, p, server).tools();
    } catch {
      continue;
    }
    for (const t of tools) {
      if (!_wants(patterns, t.name)) continue;
      const name = `${server}.${t.name}`;
      const pin = p.mcpPins?.[name] ?? _pin(k, batch, p, name, pinOf(t));
      const d = pin.definition;
      out.push({
        name,
        description: typeof d["description"] === "string" ? d["description"] : "",
        inputSchema: (d["inputSchema"] ?? { type: "object" }) as Record<string, unknown>,
      });
    }
  }
  return out;
}

/** Pins a tool's definition in the process record (in `batch`), audited. */
function _pin(k: KernelCore, batch: Batch, p: ProcessRecord, name: string, pin: McpPin): McpPin {
  p.mcpPins = { ...p.mcpPins, [name]: pin };
  k.records.saveProcess(batch, p);
  k.records.audit(batch, {
    actor: "kernel",
    action: "mcp.pin",
    pid: p.pid,
    resource: `mcp:${name.replace(".", "/")}`,
    detail: { tool: name, hash: pin.hash },
  });
  return pin;
}

/**
 * Calls a server's tool for the process (see the module doc): the pinned
 * definition must still hold, the arguments must match its input schema, and
 * `mcp:<server>/<tool>` must allow `call`; the result must fit the server's
 * `maxResultBytes` and arrive within its `callTimeoutMs`.
 */
export function mcpCall(
  e: SyscallEngine,
  server: string,
  tool: string,
  args: Record<string, unknown>,
): Promise<McpCallResult> {
  const k = e.k;
  const name = `${server}.${tool}`;
  const pinned = e.p.mcpPins?.[name];
  const config = k.mcp === null ? null : _config(k, server);
  const idempotent = idempotentByAnnotations(pinned, config?.trustAnnotations === true);
  const call = { server, tool, args, definition: pinned?.hash ?? null };
  return e.syscall("mcp.call", call, async (c) => {
    if (k.mcp === null || config === null || mcpToolOf(k, e.p, name) === null) {
      throw libosError(
        "ENOENT",
        `Cannot call '${name}': it is not an MCP tool of process ${e.pid}'s image`,
      );
    }
    const resource = `mcp:${server}/${tool}`;
    const session = _session(k, e.p, server);
    let pin = pinned;
    if (!e.redo(c)) {
      const current = (await session.tools()).find((t) => t.name === tool);
      if (current === undefined) {
        throw libosError(
          "ENOENT",
          `Cannot call '${name}': the server '${server}' no longer offers the tool '${tool}'`,
          { resource },
        );
      }
      const now = pinOf(current);
      if (pin === undefined) pin = _pin(k, e.batch, e.p, name, now);
      else if (pin.hash !== now.hash) pin = _changed(e, name, resource, pin, now);
      _checkArgs(name, pin, args, (await mcpSdk()).validator);
    }
    const shown = JSON.stringify(jsonSafe(args) ?? {});
    const authz = e.authorize(c, c.audit, resource, "call", {
      args: call,
      preview: `call ${name} ${shown.length > 2000 ? `${shown.slice(0, 2000)}…` : shown}`,
    });
    await e.effect(c, [authz], { server, tool, definition: pin?.hash ?? null }, {
      definition: pin?.hash ?? null,
    });
    const result = await session.call(tool, args, { timeoutMs: config.callTimeoutMs });
    const kept = {
      content: Array.isArray(result.content) ? result.content : [],
      ...(result.structuredContent === undefined
        ? {}
        : { structuredContent: result.structuredContent }),
      isError: result.isError === true,
    };
    _checkSize(name, kept, config.maxResultBytes);
    const object = _keep(e, `mcp-${e.callId}-${c.n}`, name, kept);
    return { ...kept, object };
  }, { idempotent });
}

/**
 * Reads a resource of a server the image names, under
 * `mcp:<server>/resource:<uri>` right `read`; the content is kept as an object.
 */
export function mcpReadResource(
  e: SyscallEngine,
  server: string,
  uri: string,
): Promise<{ contents: unknown[]; object: string }> {
  const k = e.k;
  return e.syscall("mcp.readResource", { server, uri }, async (c) => {
    if (k.mcp === null || !Object.hasOwn(k.spawner.image(e.p).mcp ?? {}, server)) {
      throw libosError(
        "ENOENT",
        `Cannot read '${uri}' from '${server}': it is not an MCP server of process ${e.pid}'s image`,
      );
    }
    const config = _config(k, server);
    const resource = `mcp:${server}/resource:${uri}`;
    const authz = e.authorize(c, c.audit, resource, "read", {
      args: { server, uri },
      preview: `read ${uri} from ${server}`,
    });
    await e.effect(c, [authz], { server, uri });
    const r = await _session(k, e.p, server).readResource(uri, {
      timeoutMs: config.callTimeoutMs,
    });
    const kept = { contents: Array.isArray(r.contents) ? r.contents : [] };
    _checkSize(`${server} ${uri}`, kept, config.maxResultBytes);
    return { ...kept, object: _keep(e, `mcp-${e.callId}-${c.n}`, `${server}:${uri}`, kept) };
  });
}

/**
 * A changed definition: refused until an operator approves it. An approved
 * `tool_change` request for exactly this new definition pins it (audited);
 * otherwise one is raised (or found pending) and the call fails EPERM.
 */
function _changed(
  e: SyscallEngine,
  name: string,
  resource: string,
  pin: McpPin,
  now: McpPin,
): McpPin {
  const k = e.k;
  const hash = actionHash({ action: "mcp.tool_change", tool: name, from: pin.hash, to: now.hash });
  const known = [...k.human.values()].filter((r) =>
    r.pid === e.pid && r.kind === "tool_change" && r.actionHash === hash
  );
  const approved = known.find((r) => r.state === "approved");
  if (approved !== undefined) {
    e.audit("mcp.tool_change", {
      resource,
      decision: "allow",
      detail: { tool: name, from: pin.hash, to: now.hash, request: approved.id },
    });
    return _pin(k, e.batch, e.p, name, now);
  }
  let pending = known.find((r) => r.state === "pending");
  if (pending === undefined) {
    pending = e.newRequest({
      n: 0,
      name: "mcp.call",
      audit: "mcp.call",
      argsHash: "",
      intent: null,
    }, {
      kind: "tool_change",
      actionHash: hash,
      preview: `${e.pid}'s MCP tool ${name} changed its definition (${pin.hash.slice(0, 19)}… → ${
        now.hash.slice(0, 19)
      }…); approve to let it be called:\n${diffDefinitions(pin.definition, now.definition)}`,
      resource,
      rights: ["call"],
      grantId: null,
    });
    e.audit("mcp.tool_change", {
      resource,
      decision: "ask",
      detail: { tool: name, from: pin.hash, to: now.hash, request: pending.id },
    });
  }
  throw libosError(
    "EPERM",
    `Cannot call '${name}': definition changed since it was pinned (${pin.hash.slice(0, 19)}… → ${
      now.hash.slice(0, 19)
    }…); request ${pending.id} asks an operator to approve the new one`,
    { resource, right: "call" },
  );
}

/** Refuses arguments that do not match the pinned input schema (before anything is sent). */
function _checkArgs(
  name: string,
  pin: McpPin,
  args: Record<string, unknown>,
  validator: McpSdk["validator"],
): void {
  const schema = pin.definition["inputSchema"];
  if (schema === null || typeof schema !== "object") return;
  let check;
  try {
    check = validator.getValidator(schema as Record<string, unknown>)(args);
  } catch (error) {
    throw libosError(
      "EINVAL",
      `Cannot call '${name}': its input schema cannot be used (${(error as Error).message})`,
    );
  }
  if (!check.valid) {
    throw libosError(
      "EINVAL",
      `Cannot call '${name}': the arguments do not match its input schema: ${check.errorMessage}`,
    );
  }
}

function _checkSize(name: string, value: unknown, max: number): void {
  const size = new TextEncoder().encode(JSON.stringify(value)).length;
  if (size > max) {
    throw libosError(
      "ELIMIT",
      `Cannot take the result of '${name}': it is ${size} bytes, more than the ${max} bytes the operator allows for this server (maxResultBytes); nothing of it was kept`,
    );
  }
}

/** Keeps a result as a `tool_result` object of the process; answers its oid. */
function _keep(e: SyscallEngine, objectName: string, tool: string, value: unknown): string {
  const record = e.k.objectWriter.put(e.batch, {
    namespace: `proc/${e.pid}`,
    name: objectName,
    type: "tool_result",
    payload: { tool, ok: true, value },
    provenance: { pid: e.pid, step: e.p.usage.steps },
  });
  return record.oid;
}

function _config(k: KernelCore, server: string): McpServerConfig {
  return k.mcp!.server(server);
}

function _session(k: KernelCore, p: ProcessRecord, server: string): McpSession {
  return k.mcp!.session(p.pid, server, _connect(k, p, server));
}

/** How the process's session reaches the server: a confined program, or HTTP. */
function _connect(k: KernelCore, p: ProcessRecord, server: string): McpConnect {
  return async () => {
    const config = _config(k, server);
    const sdk = await mcpSdk();
    if (config.type === "http") {
      return new sdk.StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: config.headers },
      });
    }
    const shell = k.shell;
    if (shell === null) {
      throw libosError(
        "EINVAL",
        `Cannot start MCP server '${server}': this kernel has no shell provider to confine it`,
      );
    }
    const cwd = await k.fs.realPath(
      config.cwd === undefined ? p.cwd : resolvePath(p.cwd, config.cwd),
    );
    const view = await programView(k, p.pid, cwd);
    const proxy = hasNetwork(k, p.pid)
      ? await ShellNetProxy.start({
        authorize: proxiedConnection(() => _connectionEngine(k, p.pid, server), {
          via: "mcp",
          server,
        }),
      })
      : null;
    let child;
    try {
      child = await shell.launch({
        argv: [config.command, ...config.args],
        cwd,
        view: view.entries,
        proxy: proxy === null ? null : { socketPath: proxy.socketPath },
        env: config.env,
        readOnly: config.readOnly,
      });
    } catch (error) {
      await proxy?.[Symbol.asyncDispose]();
      throw error;
    }
    // The proxy lives as long as the server.
    child.status.finally(() => proxy?.[Symbol.asyncDispose]()).catch(() => {});
    return new ProcessTransport(child, sdk);
  };
}

/**
 * The engine one connection of a process's stdio server is decided through:
 * it happens outside any tool call, so it gets a batch of its own (committed
 * by the proxy's decision) and the server's name as its call id.
 */
function _connectionEngine(k: KernelCore, pid: Pid, server: string): SyscallEngine {
  const p = k.procs.get(pid);
  return new SyscallEngine(k, p, {
    batch: new Batch(),
    callId: `mcp:${server}`,
    turn: p.usage.steps,
    replay: new Map(),
  });
}
