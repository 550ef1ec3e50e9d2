/**
 * The `libos` command line. Thin: it parses flags and calls the library.
 *
 * ```
 * libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
 *             [--port 8787] [--host 127.0.0.1] [--store sqlite|postgres://…]
 * libos verify [--data DIR | --store postgres://…]   verify the audit chain of a store
 * libos image check F…               validate image files
 * libos ps | show PID | spawn --image F --goal G | approve ID | deny ID
 *       | audit verify | token create --role R      (over the API of a running kernel)
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  ApiClient,
  ApiClientError,
  ControlPlane,
  mcpAllowedHostsFor,
  resolveAdminToken,
  type Role,
  ROLES,
  serveControlPlane,
} from "./api/mod.ts";
import {
  auditPages,
  bodyText,
  DataDirLock,
  escapePreview,
  type HumanRequest,
  isTerminal,
  Kernel,
  LibosError,
  loadImageFile,
  loadMcpConfig,
  LocalFilesystem,
  McpClients,
  McpSession,
  NetProvider,
  openStore,
  parseCeilingItem,
  parseStoreLocation,
  PostgresStore,
  type ProcessRecord,
  providersFromEnv,
  type Retention,
  RetentionSchema,
  ShellProvider,
  SQLITE_FILE,
  SqliteStore,
  type Store,
  type StoreLocation,
  type ToolHost,
  verifyAudit,
} from "./mod.ts";
import { SandboxTools } from "./sandbox/mod.ts";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const USAGE = `libos — Agent libOS for Deno

Usage:
  libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
              [--port 8787] [--host 127.0.0.1] [--tools DIR]... [--no-sandbox]
              [--unconfined-shell] [--retention keep|purge_on_exit]
              [--idempotency-ttl 24h]
              [--store sqlite|postgres://USER@HOST:PORT/DB[?schema=S]] [--lease-ttl 5s]
              [--mcp FILE]
      Boot the kernel on DIR (default .libos), serve the HTTP API and the web
      console on host:port (--port 0 picks a free port), spawn the image's
      process if given, and report what happens. Pending human requests are
      answered on standard input: "approve h_1", "deny h_1", "answer h_1 <text>",
      "happened h_1 [JSON]", "retry h_1", "fail h_1", or in the console. --once exits when that process ends (status 0 if it
      exited, else 1). The admin token is LIBOS_ADMIN_TOKEN, else DIR/admin.token
      (generated at the first start, mode 0600, and printed once). One kernel
      at a time holds DIR (DIR/kernel.lock): a second start there fails at once.
      --retention purge_on_exit replaces every ended process's model inputs and
      outputs, tool results and human previews and answers by their sha-256
      digests and sizes (README "Retention"); default keep, unless an image says so.
      An Idempotency-Key sent with a command is kept for --idempotency-ttl.
      --store (default LIBOS_STORE, else sqlite) keeps the kernel's state in
      DIR/kernel.db (SQLite) or in a PostgreSQL database, in schema S (default
      libos); DIR still holds the lock and the admin token. Several kernels,
      each with its own DIR, may share one PostgreSQL store: a cluster
      (docs/cluster.md). A kernel that has not heartbeaten for --lease-ttl is
      declared dead and the others adopt its processes; a kernel that finds
      its lease lost stops and exits with status 3.
      --mcp FILE (default LIBOS_MCP) names the operator's MCP servers
      ({"mcpServers": {...}}, JSONC); images list the tools they want.
  libos verify [--data DIR | --store URL]
                                 Verify the audit chain of a data directory's database,
                                 or of a PostgreSQL store. It opens the store read-only
                                 and writes nothing, so it also runs beside a kernel.
  libos image check F...         Validate image files (file:line:column on error).
  libos mcp call --url URL [--tool NAME] [--args JSON] [--header 'K: V']...
                                 Connect the kernel's MCP client to a streamable HTTP
                                 server, list its tools, call one, print the result.

  Over the API of a running kernel (--url, default LIBOS_URL or
  http://127.0.0.1:8787; --token, default LIBOS_TOKEN, LIBOS_ADMIN_TOKEN or
  DIR/admin.token with --data DIR; each command carries a fresh
  Idempotency-Key and is retried with it when the kernel cannot be reached):
  libos ps                       List processes.
  libos show PID                 A process: state, grants, pending requests, journal tail.
  libos spawn --image F --goal G Spawn from an image file F (or a registered image id F).
  libos approve ID [--always]    Approve a pending human request (once, or always).
  libos deny ID                  Deny a pending human request.
  libos outcome ID happened|retry|fail [--value JSON]
                                 Settle an outcome request: the call took effect (its
                                 result, default null), runs once more, or fails EUNKNOWN.
  libos audit verify             Verify the kernel's audit chain.
  libos token create --role R [--name N] [--ceiling 'RESOURCE:RIGHTS']...
                                 Mint a token (R: viewer, operator, admin); printed once.
  libos checkpoint PID [--reason R] [--subtree]   Checkpoint a process.
  libos checkpoints PID          List a process's checkpoints.
  libos restore CHECKPOINT       Roll its processes back in place (admin).
  libos export CHECKPOINT --out FILE   Write its bundle (admin).
  libos import FILE              Import a bundle; its processes resume here (admin).
  libos help                     This text.
`;

async function main(argv: string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "start":
      return await start(rest);
    case "verify":
      return await verify(rest);
    case "image":
      return await image(rest);
    case "mcp":
      return await mcpVerb(rest);
    case "ps":
    case "show":
    case "spawn":
    case "approve":
    case "deny":
    case "outcome":
    case "audit":
    case "token":
    case "checkpoint":
    case "checkpoints":
    case "restore":
    case "export":
    case "import":
      return await remote(command, rest);
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default:
      console.error(_line`libos: unknown command '${command}'` + `\n\n${USAGE}`);
      return 2;
  }
}

/**
 * Boots a kernel on the data directory `lock` holds: whoever writes the store
 * must hold the directory's lock for as long as the store is open.
 */
async function openKernel(
  lock: DataDirLock,
  workspace: string,
  options: {
    store: StoreLocation;
    toolHost?: ToolHost;
    unconfinedShell?: boolean;
    retention?: Retention;
    mcp?: McpClients;
    leaseTtlMs: number;
    onFenced: (error: unknown) => void;
  },
): Promise<Kernel> {
  if (!lock.held || lock.mode !== "exclusive") {
    throw new TypeError(`Cannot open the store in '${lock.dir}': its lock is not held exclusively`);
  }
  const store = await openStore(options.store, { dataDir: lock.dir });
  const unconfined = options.unconfinedShell === true;
  const shell = new ShellProvider({ workspace, unconfined });
  const confinement = await shell.confinement();
  console.log(_line`libos: shell — ${confinement.notice}`);
  return await Kernel.create({
    store,
    filesystem: new LocalFilesystem(workspace),
    autostart: true,
    models: providersFromEnv(Deno.env),
    net: new NetProvider(),
    shell,
    // The shell's confinement is part of the record of every boot.
    boot: {
      shell: confinement.kind,
      unconfinedShell: unconfined,
      retention: options.retention ?? "keep",
    },
    ...(options.retention === undefined ? {} : { retention: options.retention }),
    ...(options.toolHost === undefined ? {} : { toolHost: options.toolHost }),
    ...(options.mcp === undefined ? {} : { mcp: options.mcp }),
    cluster: { leaseTtlMs: options.leaseTtlMs, onFenced: options.onFenced },
  });
}

/**
 * `libos mcp call`: the kernel's MCP client (the session every process's
 * calls go through) against one streamable HTTP server, outside any process:
 * connect, list the tools, call one. The MCP conformance suite drives it
 * (it appends the server's URL as the last argument).
 */
async function mcpVerb(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "call") {
    console.error(_line`libos: mcp: unknown subcommand '${sub ?? ""}'; expected 'call'`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      url: { type: "string" },
      tool: { type: "string" },
      args: { type: "string", default: "{}" },
      header: { type: "string", multiple: true, default: [] },
      "timeout-ms": { type: "string", default: "30000" },
    },
    allowPositionals: true,
    strict: true,
  });
  const url = values.url ?? positionals.at(-1);
  if (url === undefined || !URL.canParse(url)) {
    console.error(_line`libos: mcp call: --url must be an http(s) URL, got '${url ?? ""}'`);
    return 2;
  }
  let callArgs: Record<string, unknown>;
  try {
    callArgs = JSON.parse(values.args);
    if (callArgs === null || typeof callArgs !== "object" || Array.isArray(callArgs)) {
      throw new TypeError("not an object");
    }
  } catch {
    console.error(_line`libos: mcp call: --args must be a JSON object, got '${values.args}'`);
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of values.header) {
    const i = h.indexOf(":");
    if (i <= 0) {
      console.error(_line`libos: mcp call: --header must be 'Name: value', got '${h}'`);
      return 2;
    }
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  const timeoutMs = Number(values["timeout-ms"]);
  await using session = new McpSession({
    server: "cli",
    connect: () =>
      Promise.resolve(
        new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
      ),
  });
  try {
    const tools = await session.tools({ timeoutMs });
    console.log(JSON.stringify({ tools: tools.map((t: { name: string }) => t.name) }));
    if (values.tool !== undefined) {
      const result = await session.call(values.tool, callArgs, { timeoutMs });
      console.log(JSON.stringify(result));
      if (result.isError === true) return 1;
    }
    return 0;
  } catch (error) {
    console.error(
      _line`libos: mcp call: ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      image: { type: "string" },
      goal: { type: "string" },
      data: { type: "string", default: ".libos" },
      workspace: { type: "string", default: "." },
      once: { type: "boolean", default: false },
      port: { type: "string", default: "8787" },
      host: { type: "string", default: "127.0.0.1" },
      tools: { type: "string", multiple: true, default: [] },
      "no-sandbox": { type: "boolean", default: false },
      "unconfined-shell": { type: "boolean", default: false },
      "idempotency-ttl": { type: "string", default: "24h" },
      retention: { type: "string", default: "keep" },
      store: { type: "string" },
      mcp: { type: "string" },
      "lease-ttl": { type: "string", default: "5s" },
    },
    strict: true,
  });
  const leaseTtlMs = parseDuration(values["lease-ttl"]);
  if (leaseTtlMs === null || leaseTtlMs < 30) {
    console.error(
      _line`libos: --lease-ttl must be a duration of at least 30ms such as 5s or 1500ms, got '${
        values["lease-ttl"]
      }'`,
    );
    return 2;
  }
  const mcpFile = values.mcp ?? Deno.env.get("LIBOS_MCP");
  let mcp: McpClients | undefined;
  if (mcpFile !== undefined && mcpFile !== "") {
    try {
      mcp = new McpClients(await loadMcpConfig(mcpFile));
    } catch (error) {
      console.error(_line`libos: ${error instanceof Error ? error.message : String(error)}`);
      return 2;
    }
    console.log(_line`libos: MCP servers ${mcp.names().join(", ") || "(none)"} (${mcpFile})`);
  }
  const idempotencyTtlMs = parseDuration(values["idempotency-ttl"]);
  if (idempotencyTtlMs === null) {
    console.error(
      _line`libos: --idempotency-ttl must be a duration such as 24h, 30m, 90s or 500ms, got '${
        values["idempotency-ttl"]
      }'`,
    );
    return 2;
  }
  const retention = RetentionSchema.safeParse(values.retention);
  if (!retention.success) {
    console.error(
      _line`libos: --retention must be keep or purge_on_exit, got '${values.retention}'`,
    );
    return 2;
  }
  const location = _storeLocation(values.store);
  if (location === null) return 2;
  const port = Number(values.port);
  if (!/^\d{1,5}$/.test(values.port) || port > 65535) {
    console.error(_line`libos: --port must be a number from 0 to 65535, got '${values.port}'`);
    return 2;
  }
  const data = resolve(values.data);
  const workspace = resolve(values.workspace);
  await mkdir(data, { recursive: true });
  // Held until this function returns, or the OS drops it when the process dies.
  using lock = DataDirLock.acquire(data);
  const admin = await resolveAdminToken({
    dataDir: data,
    env: Deno.env.get("LIBOS_ADMIN_TOKEN"),
  });
  // Tools-folder tools run in the sandbox: isolate hosts under bubblewrap.
  let sandbox: SandboxTools | null = null;
  if (!values["no-sandbox"]) {
    sandbox = await SandboxTools.create({ dirs: values.tools.map((d) => resolve(d)) });
    console.log(_line`libos: sandbox — ${sandbox.confinement.notice}`);
    console.log(_line`libos: tools ${sandbox.names().join(", ") || "(none)"}`);
    for (const b of sandbox.broken) console.log(_line`libos: skipped tool ${b.file}: ${b.reason}`);
  } else {
    console.log("libos: --no-sandbox: only the primitive tools are available");
  }
  // Listen for signals before saying "up": a signal from then on shuts down cleanly.
  const stop = Promise.withResolvers<string>();
  const kernel = await openKernel(lock, workspace, {
    store: location,
    leaseTtlMs: Math.round(leaseTtlMs),
    // The kernel has stopped and dropped its processes; another adopts them.
    onFenced: () => stop.resolve("lease lost (fenced)"),
    ...(sandbox === null ? {} : { toolHost: sandbox }),
    unconfinedShell: values["unconfined-shell"],
    retention: retention.data,
    ...(mcp === undefined ? {} : { mcp }),
  });
  const onSignal = (name: string) => () => stop.resolve(name);
  const sigint = onSignal("SIGINT");
  const sigterm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", sigint);
  Deno.addSignalListener("SIGTERM", sigterm);
  console.log(
    _line`libos: kernel up (${kernel.kernelId}) — data ${data}, workspace ${workspace}, store ${
      kernel.store instanceof PostgresStore ? kernel.store.location : kernel.store.kind
    }`,
  );
  const plane = await ControlPlane.create(kernel, {
    adminToken: admin.token,
    idempotencyTtlMs,
    mcpAllowedHosts: mcpAllowedHostsFor(values.host),
  });
  let server;
  try {
    server = serveControlPlane(plane, { port, hostname: values.host });
  } catch (error) {
    Deno.removeSignalListener("SIGINT", sigint);
    Deno.removeSignalListener("SIGTERM", sigterm);
    plane.close();
    await kernel.close();
    await sandbox?.[Symbol.asyncDispose]();
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is in use (choose another --port, or 0 for a free one)"
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(_line`libos: cannot serve the API on ${values.host}:${port}: ${why}`);
    return 1;
  }
  console.log(_line`libos: API on ${server.url} (console ${server.url}/, docs ${server.url}/docs)`);
  if (admin.source === "generated") {
    console.log(_line`libos: admin token (shown once; kept in ${admin.path}, mode 0600):`);
    console.log(_line`  ${admin.token}`);
  } else {
    console.log(
      _line`libos: admin token from ${admin.source === "env" ? "LIBOS_ADMIN_TOKEN" : admin.path}`,
    );
  }
  const live = kernel.list().filter((p) => !isTerminal(p.state));
  if (live.length > 0) {
    console.log(
      _line`libos: resumed ${live.length} live process(es): ${live.map((p) => p.pid).join(", ")}`,
    );
  }

  let watched: string | null = null;
  const finished = Promise.withResolvers<ProcessRecord>();
  using _sub = kernel.subscribe((e) => {
    if (e.type === "process") {
      if (e.state === "running" || (e.from === "running" && e.state === "runnable")) return;
      const p = kernel.get(e.pid);
      const tail = e.state === "exited"
        ? ` result ${JSON.stringify(p.result)}`
        : e.reason !== null
        ? ` (${e.reason})`
        : "";
      console.log(_line`${e.pid} ${e.from ?? "·"} → ${e.state}${tail}`);
      if (e.pid === watched && isTerminal(e.state)) finished.resolve(p);
    } else if (e.type === "human" && e.request.state === "pending") {
      printRequest(e.request);
    } else if (e.type === "audit" && e.decision === "deny") {
      console.log(_line`audit #${e.seq}: ${e.action} denied for ${e.pid ?? "-"}`);
    }
  });
  for (const r of kernel.humanRequests({ state: "pending" })) printRequest(r);

  if (values.image !== undefined) {
    const img = await loadImageFile(values.image);
    await kernel.registerImage(img, { actor: "cli", source: values.image });
    const p = await kernel.spawn({
      image: img.id,
      goal: values.goal ?? img.description ?? img.name,
    }, { actor: "cli" });
    watched = p.pid;
    console.log(_line`libos: spawned ${p.pid} from ${img.id}@${img.version}`);
  }

  const stdin = readAnswers(kernel);

  let code = 0;
  const outcome = await Promise.race([
    stop.promise.then((s) => ({ kind: "signal" as const, s })),
    values.once && watched !== null
      ? finished.promise.then((p) => ({ kind: "done" as const, p }))
      : new Promise<never>(() => {}),
  ]);
  if (outcome.kind === "signal") console.log(_line`libos: ${outcome.s}: shutting down`);
  else code = outcome.p.state === "exited" ? 0 : 1;
  if (kernel.fenced) code = 3;
  Deno.removeSignalListener("SIGINT", sigint);
  Deno.removeSignalListener("SIGTERM", sigterm);
  stdin.abort();
  await server.shutdown();
  await kernel.close();
  await sandbox?.[Symbol.asyncDispose]();
  console.log("libos: state committed; bye");
  return code;
}

/**
 * A pending human request. Its preview keeps its lines, each one behind a
 * margin, so no line of it can pass for a line of the kernel's own.
 */
function printRequest(r: HumanRequest): void {
  const preview = escapePreview(bodyText(r.preview)).split("\n").map((l) => `  │ ${l}`);
  const answer = r.kind === "outcome"
    ? _line`happened ${r.id} [JSON] | retry ${r.id} | fail ${r.id}`
    : r.kind === "question"
    ? _line`answer ${r.id} <text> | deny ${r.id}`
    : _line`approve ${r.id} | deny ${r.id}`;
  console.log(
    ["", _line`[human] ${r.id} (${r.kind}) from ${r.pid}:`, ...preview].join("\n") +
      `\n  answer with: ${answer}\n`,
  );
}

/** The decisions a line on standard input may give. */
const _DECISIONS = ["approve", "deny", "answer", "happened", "retry", "fail"] as const;

/**
 * Reads "approve ID", "deny ID", "answer ID text", "happened ID [JSON]",
 * "retry ID" and "fail ID" lines from stdin.
 */
function readAnswers(kernel: Kernel): AbortController {
  const abort = new AbortController();
  (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = Deno.stdin.readable.getReader();
    abort.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), {
      once: true,
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        const [verb, id, ...text] = line.split(/\s+/);
        if (verb === undefined || id === undefined) continue;
        const decision = _DECISIONS.find((d) => d === verb) ?? null;
        if (decision === null) {
          console.log(
            _line`libos: expected "approve ID", "deny ID", "answer ID text", "happened ID [JSON]", "retry ID" or "fail ID", got '${line}'`,
          );
          continue;
        }
        try {
          const rest = text.join(" ");
          const r = await kernel.answer(
            id,
            decision === "answer"
              ? { decision, answer: rest }
              : decision === "happened" && rest !== ""
              ? { decision, value: JSON.parse(rest) }
              : { decision },
            { actor: "cli" },
          );
          console.log(
            _line`libos: ${r.id} ${r.kind === "outcome" ? r.answer ?? r.state : r.state}`,
          );
        } catch (error) {
          for (const l of _errorLines(error)) console.log(`libos: ${l}`);
        }
      }
    }
  })().catch(() => {});
  return abort;
}

/**
 * Verifies the audit chain from the store, opened read-only: it changes no
 * byte of the database, its WAL or the clean-shutdown marker, and runs beside
 * a kernel on the same store.
 */
async function verify(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: "string", default: ".libos" }, store: { type: "string" } },
    strict: true,
  });
  const location = _storeLocation(values.store);
  if (location === null) return 2;
  if (location.kind === "postgres") {
    await using store = await PostgresStore.open(location.url, { readOnly: true });
    return await _verifyStore(store);
  }
  const data = resolve(values.data);
  const db = join(data, SQLITE_FILE);
  if (!(await _exists(db))) {
    console.error(_line`libos: Cannot verify '${data}': it holds no ${SQLITE_FILE}`);
    return 1;
  }
  // With no kernel on the directory, a shared lock keeps one from starting, so
  // a database without a WAL can be read as an immutable file: SQLite then
  // creates no -wal or -shm file. With a kernel on it, SQLite reads its WAL.
  using reader = DataDirLock.acquireShared(data);
  const immutable = reader !== null && !(await _exists(`${db}-wal`));
  await using store = await SqliteStore.open(db, { readOnly: true, immutable });
  return await _verifyStore(store);
}

/** Verifies a store's audit chain and reports it; 0 when it holds. */
async function _verifyStore(store: Store): Promise<number> {
  const t0 = performance.now();
  // A shared store holds one chain per kernel (docs/cluster.md).
  const v = await verifyAudit(auditPages(store), store.shared ? { chains: "many" } : {});
  const ms = (performance.now() - t0).toFixed(1);
  if (v.ok) {
    console.log(_line`audit chain ok: ${v.count} records verified in ${ms} ms`);
    return 0;
  }
  console.log(_line`audit chain BROKEN at record ${v.seq}: ${v.reason} (${v.count} records read)`);
  return 1;
}

/** The store `--store` (else LIBOS_STORE) names; null after printing why it is not one. */
function _storeLocation(flag: string | undefined): StoreLocation | null {
  try {
    return parseStoreLocation(flag ?? _env("LIBOS_STORE"));
  } catch (error) {
    console.error(_line`libos: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

async function image(args: string[]): Promise<number> {
  const [verb, ...files] = args;
  if (verb !== "check" || files.length === 0) {
    console.error("usage: libos image check F...");
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    try {
      const img = await loadImageFile(f);
      console.log(
        _line`${f}: ok (${img.id}@${img.version}, ${img.tools.length} tools, ${img.capabilities.length} grants)`,
      );
    } catch (error) {
      bad++;
      for (const l of _errorLines(error)) console.log(l);
    }
  }
  return bad === 0 ? 0 : 1;
}

/** The verbs that talk to a running kernel over its API. */
async function remote(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      data: { type: "string", default: ".libos" },
      image: { type: "string" },
      goal: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      ceiling: { type: "string", multiple: true },
      always: { type: "boolean", default: false },
      reason: { type: "string" },
      subtree: { type: "boolean", default: false },
      out: { type: "string" },
      value: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const usage = (text: string) => {
    console.error(_line`usage: ${text}`);
    return 2;
  };
  const token = values.token ?? _env("LIBOS_TOKEN") ?? _env("LIBOS_ADMIN_TOKEN") ??
    await _readToken(join(resolve(values.data), "admin.token"));
  if (token === null || token === "") {
    console.error(
      "libos: no token: pass --token, set LIBOS_TOKEN, or run where --data DIR holds admin.token",
    );
    return 2;
  }
  const client = new ApiClient({
    url: values.url ?? _env("LIBOS_URL") ?? "http://127.0.0.1:8787",
    token,
  });
  const shown = (text: string, max = 200) => escapePreview(text, { max, oneLine: true });
  try {
    switch (command) {
      case "ps": {
        const rows = (await client.processes()).map((p) => [
          p.pid,
          p.parentPid ?? "-",
          p.state,
          `${p.imageId}@${p.imageVersion}`,
          shown(bodyText(p.goal), 60),
        ]);
        _table([["PID", "PARENT", "STATE", "IMAGE", "GOAL"], ...rows]);
        return 0;
      }
      case "show": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos show PID");
        const p = await client.process(pid);
        const [grants, requests, journal] = await Promise.all([
          client.capabilities(pid),
          client.humanRequests({ state: "pending" }),
          client.journal(pid, { limit: 1000 }),
        ]);
        console.log(_line`${p.pid}  ${p.state}${p.reason === null ? "" : ` (${shown(p.reason)})`}`);
        console.log(_line`  image    ${p.imageId}@${p.imageVersion}`);
        console.log(_line`  parent   ${p.parentPid ?? "-"}    cwd /${p.cwd}`);
        console.log(_line`  goal     ${shown(bodyText(p.goal))}`);
        console.log(
          _line`  usage    steps ${p.usage.steps}, tool calls ${p.usage.toolCalls}, tokens ${p.usage.tokens}, children ${p.usage.children}`,
        );
        if (p.usage.subtreeReservedTokens > 0 || p.usage.subtreeReservedCostMicroUsd > 0) {
          console.log(
            _line`  held     ${p.usage.reservedTokens} tokens by its model call in flight, ${p.usage.subtreeReservedTokens} by its subtree's`,
          );
        }
        if (isTerminal(p.state)) {
          console.log(_line`  result   ${shown(JSON.stringify(p.result) ?? "null")}`);
        }
        console.log("  grants");
        for (const g of grants) {
          const status = g.revoked ? "revoked" : g.uses === 0 ? "spent" : "live";
          console.log(
            _line`    ${g.id} ${g.effect} ${shown(g.resource)} [${g.rights.join(",")}] ${status}`,
          );
        }
        for (const r of requests.filter((x) => x.pid === pid)) printRequest(r);
        console.log("  journal (last 20)");
        for (const e of journal.slice(-20)) {
          console.log(_line`    #${e.seq} ${e.kind} ${shown(JSON.stringify(e.data), 120)}`);
        }
        return 0;
      }
      case "spawn": {
        if (values.image === undefined) return usage("libos spawn --image F --goal G");
        const isFile = await Deno.stat(values.image).then((s) => s.isFile, () => false);
        const img = isFile ? await loadImageFile(values.image) : null;
        const { pid } = await client.spawn({
          image: img ?? values.image,
          goal: values.goal ?? img?.description ?? img?.name ?? "",
        });
        console.log(_line`spawned ${pid}`);
        return 0;
      }
      case "approve":
      case "deny": {
        const [id] = positionals;
        if (id === undefined) return usage(`libos ${command} ID`);
        const r = await client.decide(
          id,
          command === "approve"
            ? { decision: "approve", scope: values.always ? "always" : "once" }
            : { decision: "deny" },
        );
        console.log(_line`${r.id} ${r.state} (${r.kind} from ${r.pid})`);
        return 0;
      }
      case "outcome": {
        const [id, decision] = positionals;
        if (
          id === undefined ||
          (decision !== "happened" && decision !== "retry" && decision !== "fail")
        ) {
          return usage("libos outcome ID happened|retry|fail [--value JSON]");
        }
        if (values.value !== undefined && decision !== "happened") {
          return usage("--value goes with happened only");
        }
        let value: unknown;
        if (values.value !== undefined) {
          try {
            value = JSON.parse(values.value);
          } catch {
            return usage(`--value must be JSON, got '${values.value}'`);
          }
        }
        const r = await client.decide(id, {
          decision,
          ...(value === undefined ? {} : { value }),
        });
        console.log(_line`${r.id} ${r.answer ?? r.state} (${r.kind} from ${r.pid})`);
        return 0;
      }
      case "audit": {
        if (positionals[0] !== "verify") return usage("libos audit verify");
        const v = await client.verifyAudit();
        if (v.ok) {
          console.log(_line`audit chain ok: ${v.count} records verified`);
          return 0;
        }
        console.log(
          _line`audit chain BROKEN at record ${v.seq}: ${v.reason} (${v.count} records read)`,
        );
        return 1;
      }
      case "token": {
        const role = values.role;
        if (positionals[0] !== "create" || role === undefined) {
          return usage(
            "libos token create --role viewer|operator|admin [--name N] [--ceiling 'RESOURCE:RIGHTS']...",
          );
        }
        if (!(ROLES as readonly string[]).includes(role)) {
          return usage(`--role must be one of ${ROLES.join(", ")}, got '${role}'`);
        }
        const ceiling = values.ceiling === undefined || values.ceiling.length === 0
          ? undefined
          : values.ceiling.map(parseCeilingItem);
        const created = await client.createToken({
          role: role as Role,
          ...(values.name === undefined ? {} : { name: values.name }),
          ...(ceiling === undefined ? {} : { ceiling }),
        });
        console.log(
          _line`token ${created.info.id} '${created.info.name}' (${created.info.role}), shown once:`,
        );
        console.log(_line`${created.token}`);
        return 0;
      }
      case "checkpoint": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos checkpoint PID [--reason R] [--subtree]");
        const ck = await client.checkpoint(pid, {
          ...(values.reason === undefined ? {} : { reason: values.reason }),
          subtree: values.subtree,
        });
        console.log(
          _line`${ck.id} of ${ck.pids.join(", ")} (journal #${ck.journalSeq}, ${
            ck.hash.slice(0, 16)
          }…)`,
        );
        return 0;
      }
      case "checkpoints": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos checkpoints PID");
        const rows = (await client.checkpoints(pid)).map((c) => [
          c.id,
          c.pids.join(","),
          new Date(c.createdAt).toISOString(),
          c.createdBy,
          shown(c.reason ?? "", 50),
        ]);
        _table([["ID", "PIDS", "CREATED", "BY", "REASON"], ...rows]);
        return 0;
      }
      case "restore": {
        const [id] = positionals;
        if (id === undefined) return usage("libos restore CHECKPOINT");
        const p = await client.restore(id);
        console.log(_line`${p.pid} restored from ${id}: ${p.state}`);
        return 0;
      }
      case "export": {
        const [id] = positionals;
        if (id === undefined || values.out === undefined) {
          return usage("libos export CHECKPOINT --out FILE");
        }
        const bytes = await client.exportBundle(id);
        await Deno.writeFile(values.out, bytes);
        console.log(_line`${id}: ${bytes.length} bytes to ${values.out}`);
        return 0;
      }
      case "import": {
        const [file] = positionals;
        if (file === undefined) return usage("libos import FILE");
        const { pids } = await client.importBundle(await Deno.readFile(file));
        for (const [from, to] of Object.entries(pids)) console.log(_line`${from} → ${to}`);
        return 0;
      }
      default:
        return usage(`libos ${command}: unknown verb`);
    }
  } catch (error) {
    if (error instanceof ApiClientError) {
      console.error(_line`libos: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/** An environment variable; unset when empty. */
function _env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? undefined : v;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function _readToken(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function _table(raw: string[][]): void {
  const rows = raw.map((r) => r.map((cell) => _field(cell)));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) {
    console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
}

/**
 * A line for the terminal: the template's own text as written, each value
 * escaped to one line, since a value may come from a process, an image, a
 * model, a human or a remote API (see {@linkcode escapePreview}).
 */
function _line(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += _field(values[i]) + strings[i + 1]!;
  return out;
}

/** One printed field: escaped, one line. */
function _field(value: unknown): string {
  return escapePreview(typeof value === "string" ? value : String(value), { oneLine: true });
}

/**
 * An error as terminal lines, each escaped: an image's issues one a line
 * (`file:line:column field: message`), any other error its message.
 */
function _errorLines(error: unknown): string[] {
  if (error instanceof LibosError && Array.isArray(error.fields["issues"])) {
    const file = error.fields.file ?? "";
    return (error.fields["issues"] as _Issue[]).map((i) =>
      i.line === undefined
        ? _line`${file}: ${i.field}: ${i.message}`
        : _line`${file}:${i.line}:${i.column ?? 1} ${i.field}: ${i.message}`
    );
  }
  return [_field(error instanceof Error ? error.message : String(error))];
}

/** An image issue as `LibosError.fields.issues` holds it. */
interface _Issue {
  field: string;
  message: string;
  line?: number;
  column?: number;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    for (const l of _errorLines(error)) console.error(`libos: ${l}`);
    Deno.exit(1);
  }
}

/** A duration such as `24h`, `30m`, `90s` or `500ms` in ms (at least 1 ms), or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) return null;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!]!;
  const ms = Number(m[1]) * unit;
  return ms >= 1 && Number.isSafeInteger(ms) ? ms : null;
}
