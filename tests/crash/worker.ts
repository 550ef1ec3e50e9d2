/**
 * The kernel under test in the crash harness: a real kernel on SQLite and a
 * local workspace, running a workload of scripted processes (file writes,
 * object writes, an approval, a one-time grant, sleeps), with an operator
 * that approves every request. It prints what it acknowledged:
 *
 *   BOOT <live>         the kernel is up
 *   ACK spawn <pid>     a spawn returned (committed)
 *   ACK approve <id>    an approval returned (committed)
 *   DONE                every process ended; the kernel closed cleanly
 *
 * Usage: worker.ts --data DIR --workspace DIR [--procs N] [--rounds N] [--sleep MS] [--poison]
 *                  [--store sqlite|postgres://…]
 */
import { parseArgs } from "node:util";
import {
  type AgentImageInput,
  isTerminal,
  Kernel,
  LocalFilesystem,
  type ModelProvider,
  openStore,
  parseStoreLocation,
} from "../../mod.ts";

/** The scripted steps of worker `i` with `rounds` rounds. */
export function workloadImage(rounds: number, sleepMs: number): AgentImageInput {
  const steps: AgentImageInput["model"] extends infer M ? M extends { steps: infer S } ? S : never
    : never = [
      { tool: "create_object", args: { name: "counter", type: "note", payload: { text: "0" } } },
    ];
  for (let r = 1; r <= rounds; r++) {
    steps.push({
      calls: [
        { tool: "write_text_file", args: { path: `f${r}.txt`, text: `round ${r}\n` } },
        { tool: "write_object", args: { ref: "counter", payload: { text: String(r) } } },
      ],
    });
    if (sleepMs > 0) steps.push({ tool: "sleep", args: { ms: sleepMs } });
  }
  steps.push({ tool: "write_text_file", args: { path: "approved.txt", text: "approved\n" } });
  steps.push({ tool: "write_text_file", args: { path: "once.txt", text: "first\n" } });
  steps.push({ tool: "write_text_file", args: { path: "once.txt", text: "second\n" } });
  steps.push({ tool: "exit", args: { result: { done: true, rounds } } });
  return {
    id: "crash-workload",
    name: "crash workload",
    version: `${rounds}.${sleepMs}`,
    model: { provider: "scripted", steps },
    tools: ["create_object", "write_object", "write_text_file", "sleep", "exit"],
  };
}

/** The grants worker `dir` gets at spawn. */
export function workloadGrants(dir: string) {
  return [
    { resource: `fs:${dir}/f*.txt`, rights: ["write"] },
    { resource: `fs:${dir}/approved.txt`, rights: ["write"], effect: "ask" as const },
    { resource: `fs:${dir}/once.txt`, rights: ["write"], uses: 1 },
  ];
}

/** A model provider that takes the whole kernel down when it is called. */
const poison: ModelProvider = {
  name: "poison",
  complete() {
    console.log("POISON");
    Deno.exit(70);
  },
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      data: { type: "string" },
      workspace: { type: "string" },
      procs: { type: "string", default: "6" },
      rounds: { type: "string", default: "10" },
      sleep: { type: "string", default: "20" },
      poison: { type: "boolean", default: false },
      // The kernel's store (default: SQLite in --data).
      store: { type: "string" },
      // Dies (exit 9, as abruptly as SIGKILL) around the first write of a path.
      "crash-before": { type: "string" },
      "crash-after": { type: "string" },
    },
  });
  const store = await openStore(parseStoreLocation(values.store), { dataDir: values.data! });
  const fs = new LocalFilesystem(values.workspace!);
  const before = values["crash-before"];
  const after = values["crash-after"];
  if (before !== undefined || after !== undefined) {
    const write = fs.writeBytes.bind(fs);
    fs.writeBytes = async (path, bytes, options) => {
      if (path === before) Deno.exit(9);
      await write(path, bytes, options);
      if (path === after) Deno.exit(9);
    };
  }
  const kernel = await Kernel.create({ store, filesystem: fs, models: [poison] });
  const live = kernel.list().filter((p) => !isTerminal(p.state)).length;
  console.log(`BOOT ${live}`);
  const approve = async (id: string) => {
    try {
      await kernel.answer(id, { decision: "approve" }, { actor: "operator:crash" });
      console.log(`ACK approve ${id}`);
    } catch {
      // Answered already by an earlier life of this worker.
    }
  };
  using _ = kernel.subscribe((e) => {
    if (e.type === "human" && e.request.state === "pending") void approve(e.request.id);
  });
  for (const r of kernel.humanRequests({ state: "pending" })) void approve(r.id);
  // Spawns are committed one by one: a worker killed half-way spawns the rest.
  const image = workloadImage(Number(values.rounds), Number(values.sleep));
  await kernel.registerImage(image);
  const have = kernel.list().filter((p) => p.imageId === image.id).length;
  for (let i = have + 1; i <= Number(values.procs); i++) {
    const dir = `w${i}`;
    const p = await kernel.spawn({
      image: image.id,
      goal: `work in ${dir}`,
      cwd: dir,
      capabilities: workloadGrants(dir),
    });
    console.log(`ACK spawn ${p.pid}`);
  }
  if (values.poison && !kernel.list().some((p) => p.imageId === "poison")) {
    const p = await kernel.spawn({
      image: {
        id: "poison",
        name: "poison",
        version: "1",
        model: { provider: "poison", name: "x" },
        tools: ["exit"],
      },
      goal: "bring the kernel down",
      capabilities: [{ resource: "model:poison/x", rights: ["call"] }],
    });
    console.log(`ACK spawn ${p.pid}`);
  }
  for (const p of kernel.list()) await kernel.wait(p.pid, { until: "terminal" });
  await kernel.close();
  console.log("DONE");
}
