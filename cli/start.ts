/**
 * `libos start`: boots a kernel on a data directory, serves its API and,
 * with `--image`/`--goal`, runs a process (answering human requests on the
 * terminal).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import {
  ControlPlane,
  mcpAllowedHostsFor,
  resolveAdminToken,
  serveControlPlane,
} from "../api/mod.ts";
import {
  DataDirLock,
  IdleCollector,
  isTerminal,
  Kernel,
  loadImageFile,
  loadMcpConfig,
  LocalFilesystem,
  McpClients,
  NetProvider,
  openStore,
  PostgresStore,
  type ProcessRecord,
  providersFromEnv,
  type Retention,
  RetentionSchema,
  ShellProvider,
  type StoreLocation,
  type ToolHost,
} from "../mod.ts";
import { SandboxTools } from "../sandbox/mod.ts";
import { errorLines, printRequest, safeLine } from "./terminal.ts";
import { parseDuration, storeLocation } from "./flags.ts";

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
  console.log(safeLine`libos: shell — ${confinement.notice}`);
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

/** `libos start` (see the usage text in main.ts); resolves to the exit status. */
export async function start(args: string[]): Promise<number> {
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
      safeLine`libos: --lease-ttl must be a duration of at least 30ms such as 5s or 1500ms, got '${
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
      console.error(safeLine`libos: ${error instanceof Error ? error.message : String(error)}`);
      return 2;
    }
    console.log(safeLine`libos: MCP servers ${mcp.names().join(", ") || "(none)"} (${mcpFile})`);
  }
  const idempotencyTtlMs = parseDuration(values["idempotency-ttl"]);
  if (idempotencyTtlMs === null) {
    console.error(
      safeLine`libos: --idempotency-ttl must be a duration such as 24h, 30m, 90s or 500ms, got '${
        values["idempotency-ttl"]
      }'`,
    );
    return 2;
  }
  const retention = RetentionSchema.safeParse(values.retention);
  if (!retention.success) {
    console.error(
      safeLine`libos: --retention must be keep or purge_on_exit, got '${values.retention}'`,
    );
    return 2;
  }
  const location = storeLocation(values.store);
  if (location === null) return 2;
  const port = Number(values.port);
  if (!/^\d{1,5}$/.test(values.port) || port > 65535) {
    console.error(safeLine`libos: --port must be a number from 0 to 65535, got '${values.port}'`);
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
    console.log(safeLine`libos: sandbox — ${sandbox.confinement.notice}`);
    console.log(safeLine`libos: tools ${sandbox.names().join(", ") || "(none)"}`);
    for (const b of sandbox.broken) {
      console.log(safeLine`libos: skipped tool ${b.file}: ${b.reason}`);
    }
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
  // Memory back to the host once the kernel goes quiet after work (needs
  // --expose-gc, which `deno task start` passes; inert without it).
  using collector = new IdleCollector();
  using _activity = kernel.subscribe(() => collector.activity());
  collector.start();
  const onSignal = (name: string) => () => stop.resolve(name);
  const sigint = onSignal("SIGINT");
  const sigterm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", sigint);
  Deno.addSignalListener("SIGTERM", sigterm);
  console.log(
    safeLine`libos: kernel up (${kernel.kernelId}) — data ${data}, workspace ${workspace}, store ${
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
    console.error(safeLine`libos: cannot serve the API on ${values.host}:${port}: ${why}`);
    return 1;
  }
  console.log(
    safeLine`libos: API on ${server.url} (console ${server.url}/, docs ${server.url}/docs)`,
  );
  if (admin.source === "generated") {
    console.log(safeLine`libos: admin token (shown once; kept in ${admin.path}, mode 0600):`);
    console.log(safeLine`  ${admin.token}`);
  } else {
    console.log(
      safeLine`libos: admin token from ${
        admin.source === "env" ? "LIBOS_ADMIN_TOKEN" : admin.path
      }`,
    );
  }
  const live = kernel.list().filter((p) => !isTerminal(p.state));
  if (live.length > 0) {
    console.log(
      safeLine`libos: resumed ${live.length} live process(es): ${
        live.map((p) => p.pid).join(", ")
      }`,
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
      console.log(safeLine`${e.pid} ${e.from ?? "·"} → ${e.state}${tail}`);
      if (e.pid === watched && isTerminal(e.state)) finished.resolve(p);
    } else if (e.type === "human" && e.request.state === "pending") {
      printRequest(e.request);
    } else if (e.type === "audit" && e.decision === "deny") {
      console.log(safeLine`audit #${e.seq}: ${e.action} denied for ${e.pid ?? "-"}`);
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
    console.log(safeLine`libos: spawned ${p.pid} from ${img.id}@${img.version}`);
  }

  const stdin = readAnswers(kernel);

  let code = 0;
  const outcome = await Promise.race([
    stop.promise.then((s) => ({ kind: "signal" as const, s })),
    values.once && watched !== null
      ? finished.promise.then((p) => ({ kind: "done" as const, p }))
      : new Promise<never>(() => {}),
  ]);
  if (outcome.kind === "signal") console.log(safeLine`libos: ${outcome.s}: shutting down`);
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
            safeLine`libos: expected "approve ID", "deny ID", "answer ID text", "happened ID [JSON]", "retry ID" or "fail ID", got '${line}'`,
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
            safeLine`libos: ${r.id} ${r.kind === "outcome" ? r.answer ?? r.state : r.state}`,
          );
        } catch (error) {
          for (const l of errorLines(error)) console.log(`libos: ${l}`);
        }
      }
    }
  })().catch(() => {});
  return abort;
}
