/**
 * The kernel under test in tests/crash/retention_test.ts: a real kernel on
 * SQLite with `--retention purge_on_exit`, running one process that writes a
 * long journal and an object with many versions, then exits. When the purge
 * batch reaches the store, the worker dies by SIGKILL — `before` it is
 * handed to SQLite, or `after` it committed — or, in `race` mode, prints
 * PURGING and hands it over while the harness kills it from outside.
 *
 * Usage: retention_worker.ts --data DIR --mode before|after|race [--rounds N]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Kernel, MemoryFilesystem, type Mutation, SqliteStore } from "../../mod.ts";
import { CrashableStore } from "../../runtime/testing/mod.ts";

/** The text every body of the worker's process carries. */
export const WORKER_SECRET = "retention-secret-0f3a";

/** Dies by SIGKILL around the purge batch, as `mode` says. */
class KillingStore extends CrashableStore {
  readonly mode: string;

  constructor(inner: SqliteStore, mode: string) {
    super(inner);
    this.mode = mode;
  }

  override apply(batch: readonly Mutation[]): Promise<void> {
    if (!batch.some((m) => m.kind === "journal.redact")) return super.apply(batch);
    if (this.mode === "before") Deno.kill(Deno.pid, "SIGKILL");
    if (this.mode === "race") Deno.stdout.writeSync(new TextEncoder().encode("PURGING\n"));
    const done = super.apply(batch);
    if (this.mode === "after") void done.then(() => Deno.kill(Deno.pid, "SIGKILL"));
    return done;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      mode: { type: "string" },
      rounds: { type: "string", default: "40" },
    },
  });
  const mode = values.mode;
  if (values.data === undefined || !["before", "after", "race"].includes(mode ?? "")) {
    console.error("usage: retention_worker.ts --data DIR --mode before|after|race [--rounds N]");
    return 2;
  }

  // The text is in a workspace file, not in the image (an image is not purged):
  // it reaches the journal as tool results and the object memory as versions.
  const fs = new MemoryFilesystem();
  await fs.writeBytes("secret.txt", new TextEncoder().encode(`${WORKER_SECRET} `.repeat(400)));
  const store = new KillingStore(await SqliteStore.open(join(values.data, "kernel.db")), mode!);
  const kernel = await Kernel.create({
    store,
    filesystem: fs,
    retention: "purge_on_exit",
  });
  const rounds = Number(values.rounds);
  const steps = [
    ...Array.from({ length: rounds }, () => ({
      calls: [
        { tool: "read_text_file", args: { path: "secret.txt" } },
        { tool: "file_to_object", args: { path: "secret.txt", name: "big" } },
      ],
    })),
    { tool: "exit", args: { result: { rounds } } },
  ];
  const p = await kernel.spawn({
    image: {
      id: "retention-worker",
      name: "retention worker",
      version: "1",
      model: { provider: "scripted", steps },
      tools: ["read_text_file", "file_to_object", "exit"],
      capabilities: [{ resource: "fs:secret.txt", rights: ["read"] }],
    },
    goal: `${WORKER_SECRET} goal`,
  });
  await kernel.wait(p.pid, { until: "terminal" });
  await kernel.whenPurged(p.pid);
  console.log("DONE");
  // Only `race` gets here, when the kill came late: the harness kills it anyway.
  await new Promise(() => {});
  return 0;
}

if (import.meta.main) Deno.exit(await main());
