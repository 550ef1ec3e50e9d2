/**
 * The `libos` command line. Thin: it parses flags and calls the library.
 *
 * ```
 * libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
 * libos verify [--data DIR]          verify the audit chain of a data directory
 * libos image check F…               validate image files
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type HumanRequest,
  isTerminal,
  Kernel,
  LibosError,
  loadImageFile,
  LocalFilesystem,
  type ProcessRecord,
  SqliteStore,
} from "./mod.ts";

const USAGE = `libos — Agent libOS for Deno

Usage:
  libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
      Boot the kernel on DIR (default .libos), spawn the image's process if
      given, and report what happens. Pending human requests are answered on
      standard input: "approve h_1", "deny h_1", "answer h_1 <text>".
      --once exits when that process ends (status 0 if it exited, else 1).
  libos verify [--data DIR]      Verify the audit chain of a data directory.
  libos image check F...         Validate image files (file:line:column on error).
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
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default:
      console.error(`libos: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

async function openKernel(data: string, workspace: string, autostart = true): Promise<Kernel> {
  await mkdir(data, { recursive: true });
  const store = await SqliteStore.open(join(data, "kernel.db"));
  return await Kernel.create({ store, filesystem: new LocalFilesystem(workspace), autostart });
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
    },
    strict: true,
  });
  const data = resolve(values.data);
  const workspace = resolve(values.workspace);
  const kernel = await openKernel(data, workspace);
  console.log(
    `libos: kernel up — data ${data}, workspace ${workspace}, store ${kernel.store.kind}`,
  );
  console.log(
    "libos: tools in this build run in the kernel (primitive tools); the sandbox for tool files is not built yet",
  );
  const live = kernel.list().filter((p) => !isTerminal(p.state));
  if (live.length > 0) {
    console.log(
      `libos: resumed ${live.length} live process(es): ${live.map((p) => p.pid).join(", ")}`,
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
      console.log(`${e.pid} ${e.from ?? "·"} → ${e.state}${tail}`);
      if (e.pid === watched && isTerminal(e.state)) finished.resolve(p);
    } else if (e.type === "human" && e.request.state === "pending") {
      printRequest(e.request);
    } else if (e.type === "audit" && e.decision === "deny") {
      console.log(`audit #${e.seq}: ${e.action} denied for ${e.pid ?? "-"}`);
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
    console.log(`libos: spawned ${p.pid} from ${img.id}@${img.version}`);
  }

  const stop = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stop.resolve(name);
  const sigint = onSignal("SIGINT");
  const sigterm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", sigint);
  Deno.addSignalListener("SIGTERM", sigterm);
  const stdin = readAnswers(kernel);

  let code = 0;
  const outcome = await Promise.race([
    stop.promise.then((s) => ({ kind: "signal" as const, s })),
    values.once && watched !== null
      ? finished.promise.then((p) => ({ kind: "done" as const, p }))
      : new Promise<never>(() => {}),
  ]);
  if (outcome.kind === "signal") console.log(`libos: ${outcome.s}: shutting down`);
  else code = outcome.p.state === "exited" ? 0 : 1;
  Deno.removeSignalListener("SIGINT", sigint);
  Deno.removeSignalListener("SIGTERM", sigterm);
  stdin.abort();
  await kernel.close();
  console.log("libos: state committed; bye");
  return code;
}

function printRequest(r: HumanRequest): void {
  console.log(
    `\n[human] ${r.id} (${r.kind}) from ${r.pid}:\n${r.preview}\n` +
      `  answer with: ${
        r.kind === "question" ? `answer ${r.id} <text>` : `approve ${r.id}`
      } | deny ${r.id}\n`,
  );
}

/** Reads "approve ID", "deny ID", "answer ID text" lines from stdin. */
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
        const decision = verb === "approve"
          ? "approve"
          : verb === "deny"
          ? "deny"
          : verb === "answer"
          ? "answer"
          : null;
        if (decision === null) {
          console.log(`libos: expected "approve ID", "deny ID" or "answer ID text", got '${line}'`);
          continue;
        }
        try {
          const r = await kernel.answer(
            id,
            decision === "answer" ? { decision, answer: text.join(" ") } : { decision },
            { actor: "cli" },
          );
          console.log(`libos: ${r.id} ${r.state}`);
        } catch (error) {
          console.log(`libos: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  })().catch(() => {});
  return abort;
}

async function verify(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: "string", default: ".libos" } },
    strict: true,
  });
  const kernel = await openKernel(resolve(values.data), resolve("."), false);
  try {
    const t0 = performance.now();
    const v = await kernel.verifyAudit();
    const ms = (performance.now() - t0).toFixed(1);
    if (v.ok) {
      console.log(`audit chain ok: ${v.count} records verified in ${ms} ms`);
      return 0;
    }
    console.log(`audit chain BROKEN at record ${v.seq}: ${v.reason} (${v.count} records read)`);
    return 1;
  } finally {
    await kernel.close();
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
        `${f}: ok (${img.id}@${img.version}, ${img.tools.length} tools, ${img.capabilities.length} grants)`,
      );
    } catch (error) {
      bad++;
      console.log(error instanceof LibosError ? error.message : String(error));
    }
  }
  return bad === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`libos: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
