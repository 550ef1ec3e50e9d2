/**
 * Replay is exact across a crash at any store batch: a random scripted
 * program (files, objects, fork and spawn, questions, sleeps, a
 * non-idempotent shell, a one-time grant) runs once without interruption,
 * then again on a store that crashes at a random batch (once or twice); a new
 * kernel boots on what was durable each time, and the end state must equal the
 * uninterrupted run's. The one difference allowed: a shell run in flight at a
 * crash may end `EUNKNOWN` where the reference ran it.
 *
 * `LIBOS_PROPERTY_RUNS` sets the runs (default 200); `LIBOS_PROPERTY_SEED` and
 * `LIBOS_PROPERTY_PATH` replay a failure (its message prints the command).
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bodyText,
  FakeClock,
  isTerminal,
  Kernel,
  MemoryFilesystem,
  MemoryStore,
  type ShellProvider,
  type ToolResult,
} from "../mod.ts";
import { CrashableStore } from "../runtime/testing/mod.ts";
import { call, fileText, scripted, toolResults } from "./helpers.ts";

// ----------------------------------------------------------------- programs

/** One generated step of the root process; some compile to two model turns. */
type Step =
  | { kind: "write"; path: string; text: string }
  | { kind: "mkdir"; path: string }
  | { kind: "delete"; path: string }
  | { kind: "create"; name: string; text: string }
  | { kind: "writeObject"; name: string; text: string }
  | { kind: "read"; path: string }
  | { kind: "list"; path: string }
  | { kind: "fork"; goal: string }
  | { kind: "spawn"; goal: string }
  | { kind: "ask"; question: string }
  | { kind: "sleep"; ms: number }
  | { kind: "shell" }
  | { kind: "once"; text: string };

/** Where a run crashes: at its `at % batches`-th store batch, before or after it lands. */
interface CrashPoint {
  at: number;
  when: "before" | "after";
}

const FILES = ["w/a.txt", "w/b.txt", "w/sub/c.txt"];
const DIRS = ["w/sub", "w/new"];
const NAMES = ["n1", "n2", "n3"];
const TEXTS = ["x", "yy", "zzz"];
const SHORT_IMAGE = "replay-short";
const ONCE = "once.txt";
/** Rounds of answering, advancing time and waiting a kernel may take to finish. */
const MAX_ROUNDS = 200;
/** Real time any single wait may take before the test fails instead of hanging. */
const DEADLINE_MS = 15_000;

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("write" as const),
    path: fc.constantFrom(...FILES, "w/sub"),
    text: fc.constantFrom(...TEXTS),
  }),
  fc.record({ kind: fc.constant("mkdir" as const), path: fc.constantFrom(...DIRS, "w/a.txt") }),
  fc.record({ kind: fc.constant("delete" as const), path: fc.constantFrom(...FILES, ...DIRS) }),
  fc.record({
    kind: fc.constant("create" as const),
    name: fc.constantFrom(...NAMES),
    text: fc.constantFrom(...TEXTS),
  }),
  fc.record({
    kind: fc.constant("writeObject" as const),
    name: fc.constantFrom(...NAMES),
    text: fc.constantFrom(...TEXTS),
  }),
  fc.record({ kind: fc.constant("read" as const), path: fc.constantFrom(...FILES) }),
  fc.record({ kind: fc.constant("list" as const), path: fc.constantFrom("w", "w/sub", ".") }),
  fc.record({ kind: fc.constant("fork" as const), goal: fc.constantFrom("fa", "fb") }),
  fc.record({ kind: fc.constant("spawn" as const), goal: fc.constantFrom("sa", "sb") }),
  fc.record({ kind: fc.constant("ask" as const), question: fc.constantFrom("go?", "which?") }),
  fc.record({ kind: fc.constant("sleep" as const), ms: fc.integer({ min: 1, max: 5_000 }) }),
  fc.record({ kind: fc.constant("shell" as const) }),
  fc.record({ kind: fc.constant("once" as const), text: fc.constantFrom(...TEXTS) }),
);

const programArb = fc.array(stepArb, { minLength: 3, maxLength: 25 });
const crashArb: fc.Arbitrary<CrashPoint> = fc.record({
  at: fc.nat({ max: 10_000 }),
  when: fc.constantFrom("before" as const, "after" as const),
});
const crashesArb = fc.array(crashArb, { minLength: 1, maxLength: 2 });

type ScriptStep = { tool: string; args: Record<string, unknown> };

/**
 * Compiles a program to the root's scripted turns (one call each). A question
 * and a shell run are made unique by their turn, so that "asked twice" and
 * "ran twice" are visible.
 */
function _compile(program: readonly Step[]): ScriptStep[] {
  const out: ScriptStep[] = [];
  for (const s of program) {
    const turn = out.length;
    switch (s.kind) {
      case "write":
        out.push(call("write_text_file", { path: s.path, text: s.text }));
        break;
      case "mkdir":
        out.push(call("make_directory", { path: s.path }));
        break;
      case "delete":
        out.push(call("delete_file", { path: s.path }));
        break;
      case "create":
        out.push(call("create_object", { name: s.name, type: "note", payload: { text: s.text } }));
        break;
      case "writeObject":
        out.push(call("write_object", { ref: s.name, payload: { text: s.text } }));
        break;
      case "read":
        out.push(call("read_text_file", { path: s.path }));
        break;
      case "list":
        out.push(call("list_directory", { path: s.path }));
        break;
      case "fork":
        out.push(call("fork_process", {
          goal: s.goal,
          capabilities: [{ resource: "fs:w/**", rights: ["write"] }],
        }));
        out.push(call("wait_process", { pid: { $ref: `steps[${turn}].result.value.pid` } }));
        break;
      case "spawn":
        out.push(call("spawn_process", { goal: s.goal, image: SHORT_IMAGE }));
        out.push(call("wait_process", { pid: { $ref: `steps[${turn}].result.value.pid` } }));
        break;
      case "ask":
        out.push(call("ask_human", { question: `t${turn} ${s.question}` }));
        break;
      case "sleep":
        out.push(call("sleep", { ms: s.ms }));
        break;
      case "shell":
        out.push(call("run_shell", { argv: ["echo", `t${turn}`] }));
        break;
      case "once":
        out.push(call("write_text_file", { path: ONCE, text: s.text }));
        out.push(call("write_text_file", { path: ONCE, text: `${s.text} again` }));
        break;
    }
  }
  out.push(call("exit", { result: { turns: out.length } }));
  return out;
}

/** The root's image: the program, a forked script, and the grants every step needs. */
function _rootImage(program: readonly Step[]) {
  return scripted(_compile(program), {
    forked: [
      call("write_text_file", { path: "w/forked.txt", text: "forked" }),
      call("exit", { result: "forked done" }),
    ],
    capabilities: [
      { resource: "fs:**", rights: ["read", "list"] },
      // Writes live under w/ so that the one-time grant on once.txt is the
      // only one that covers once.txt: a spent grant falls through to the
      // next match, and a write right on fs:** would then allow the second
      // write.
      { resource: "fs:w/**", rights: ["write", "delete"], delegable: true },
      { resource: `fs:${ONCE}`, rights: ["write"], uses: 1 },
      { resource: "proc", rights: ["spawn", "fork"] },
      { resource: "human:operator", rights: ["ask"] },
      { resource: "shell:echo *", rights: ["exec"] },
    ],
    budgets: { steps: 200, toolCalls: 200 },
  });
}

const shortImage = scripted([
  call("write_text_file", { path: "w/spawned.txt", text: "spawned" }),
  call("exit", { result: "spawned done" }),
], { id: SHORT_IMAGE, capabilities: [{ resource: "fs:w/**", rights: ["write"] }] });

// ------------------------------------------------------------------ kernels

/** Runs of the fake shell per argv, shared by every kernel of one run. */
type ShellRuns = Map<string, number>;

/**
 * A shell provider double (the pattern of engine_test.ts): counts runs per
 * argv; once its kernel's store crashed, a run never starts and never returns.
 * `workspace` is an empty host directory: the kernel walks it for the
 * program's view (the workspace itself is a MemoryFilesystem).
 */
function _fakeShell(store: CrashableStore, runs: ShellRuns, workspace: string): ShellProvider {
  return {
    workspace,
    confinement: () => Promise.resolve({ kind: "bubblewrap", notice: "fake" }),
    run: (req: { argv: string[] }) => {
      if (store.crashed) return new Promise(() => {});
      const key = JSON.stringify(req.argv);
      runs.set(key, (runs.get(key) ?? 0) + 1);
      return Promise.resolve({
        code: 0,
        signal: null,
        stdout: new TextEncoder().encode(`${req.argv.join(" ")}\n`),
        stderr: new Uint8Array(),
        truncated: false,
        timedOut: false,
        confined: true,
      });
    },
  } as unknown as ShellProvider;
}

/** What one run shares across its kernels: the durable store, the workspace, time, the shell's count. */
interface World {
  inner: MemoryStore;
  fs: MemoryFilesystem;
  clock: FakeClock;
  runs: ShellRuns;
  /** The fake shell's (empty) host workspace. */
  workspace: string;
}

function _world(workspace: string): World {
  return {
    inner: new MemoryStore(),
    fs: new MemoryFilesystem({ now: () => 0 }),
    clock: new FakeClock(Date.UTC(2026, 0, 1)),
    runs: new Map(),
    workspace,
  };
}

/** One kernel's life: it finished the program, or its store crashed under it. */
type Life = { outcome: "done"; kernel: Kernel; store: CrashableStore } | { outcome: "crashed" };

/**
 * Boots a kernel on the world's durable state, makes sure the short image is
 * registered and the root spawned (a crash may have lost either), and drives
 * it until the root and every child ended. With `crashAt`, its store crashes
 * at that batch; every kernel operation races the crash.
 */
async function _live(
  world: World,
  image: ReturnType<typeof _rootImage>,
  crashAt: { batch: number; when: "before" | "after" } | null,
): Promise<Life> {
  const store = new CrashableStore(world.inner);
  let crashed!: () => void;
  const crash = new Promise<"crashed">((resolve) => crashed = () => resolve("crashed"));
  if (crashAt !== null) {
    let n = 0;
    store.crashAt(() => {
      if (n++ !== crashAt.batch) return null;
      crashed();
      return crashAt.when;
    });
  }
  const kernel = await _race(
    Kernel.create({
      store,
      filesystem: world.fs,
      clock: world.clock,
      shell: _fakeShell(store, world.runs, world.workspace),
    }),
    crash,
    "boot",
  );
  if (kernel === "crashed") return await _died();
  if (!kernel.images.has(SHORT_IMAGE)) {
    if (await _race(kernel.registerImage(shortImage), crash, "register") === "crashed") {
      return await _died();
    }
  }
  let root = kernel.list().find((p) => p.parentPid === null);
  if (root === undefined) {
    const spawned = await _race(kernel.spawn({ image, goal: "root" }), crash, "spawn");
    if (spawned === "crashed") return await _died();
    root = spawned;
  }
  const pid = root.pid;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const p = await _race(kernel.wait(pid), crash, `wait ${pid}`);
    if (p === "crashed") return await _died();
    if (isTerminal(p.state)) {
      for (const q of kernel.list()) {
        const r = await _race(kernel.wait(q.pid, { until: "terminal" }), crash, `end ${q.pid}`);
        if (r === "crashed") return await _died();
      }
      return { outcome: "done", kernel, store };
    }
    const wait = kernel.get(pid).wait;
    switch (wait?.kind) {
      case "human": {
        const pending = kernel.humanRequests({ state: "pending", pid });
        assert.ok(pending.length > 0, `${pid} waits for a human but nothing is pending`);
        for (const h of pending) {
          const answered = await _race(
            kernel.answer(h.id, { decision: "answer", answer: bodyText(h.preview) }),
            crash,
            `answer ${h.id}`,
          );
          if (answered === "crashed") return await _died();
        }
        break;
      }
      case "timer":
        world.clock.advanceTo(Math.max(world.clock.now(), wait.until));
        break;
      case "child": {
        const r = await _race(kernel.wait(wait.pid, { until: "terminal" }), crash, "child");
        if (r === "crashed") return await _died();
        break;
      }
      default:
        throw new Error(`${pid} is ${p.state} on ${JSON.stringify(wait)}: nothing will wake it`);
    }
  }
  throw new Error(`the kernel did not finish the program in ${MAX_ROUNDS} rounds`);
}

/**
 * The crashed kernel is abandoned: its commits hang forever. One event-loop
 * turn lets what it had already set going (a file write whose intent was
 * durable) land, as it would have before a real process died.
 */
async function _died(): Promise<Life> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { outcome: "crashed" };
}

/** Races an operation against the crash, failing clearly if neither comes in time. */
async function _race<T>(
  op: Promise<T>,
  crash: Promise<"crashed">,
  what: string,
): Promise<T | "crashed"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`'${what}' neither finished nor crashed in ${DEADLINE_MS} ms`)),
      DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([op, crash, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// -------------------------------------------------------------- end state

/** Everything the property compares. */
interface EndState {
  processes: Record<string, unknown>[];
  tools: Record<string, { name: string; result: ToolResult }[]>;
  files: Record<string, string>;
  objects: Record<string, unknown>;
  human: Record<string, unknown[]>;
  onceUses: number | null;
}

async function _endState(kernel: Kernel, fs: MemoryFilesystem): Promise<EndState> {
  const procs = kernel.list().sort((a, b) => Number(a.pid.slice(2)) - Number(b.pid.slice(2)));
  const tools: EndState["tools"] = {};
  const objects: EndState["objects"] = {};
  const human: EndState["human"] = {};
  for (const p of procs) {
    tools[p.pid] = _named(kernel, await toolResults(kernel, p.pid));
    for (const o of kernel.listObjects(`proc/${p.pid}`)) {
      objects[`${o.namespace}/${o.name}`] = {
        type: o.type,
        version: o.version,
        payload: o.payload,
      };
    }
    human[p.pid] = kernel.humanRequests({ pid: p.pid }).map((h) => ({
      kind: h.kind,
      preview: h.preview,
      state: h.state,
      answer: h.answer,
    }));
  }
  const root = procs.find((p) => p.parentPid === null);
  const once = root === undefined
    ? undefined
    : kernel.capabilities(root.pid).find((g) => g.resource === `fs:${ONCE}`);
  return {
    processes: procs.map((p) => ({
      pid: p.pid,
      parent: p.parentPid,
      forkedFrom: p.forkedFrom,
      image: p.imageId,
      goal: p.goal,
      state: p.state,
      result: p.result,
      reason: p.reason,
    })),
    tools,
    files: await _files(fs, ""),
    objects,
    human,
    onceUses: once?.uses ?? null,
  };
}

/**
 * Object ids are random per kernel, so a result names an object by the
 * `namespace/name` its oid denotes in this kernel ("missing" if none: an
 * oid a replay made up).
 */
function _named<T>(kernel: Kernel, value: T): T {
  const text = JSON.stringify(value).replace(/o_[0-9a-f]{20}/g, (oid) => {
    try {
      const o = kernel.object(oid);
      return `oid(${o.namespace}/${o.name})`;
    } catch {
      return "oid(missing)";
    }
  });
  return JSON.parse(text) as T;
}

/** Every path under `dir`: a file's text, or "<dir>". */
async function _files(fs: MemoryFilesystem, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.list(dir)) {
    const path = dir === "" ? e.name : `${dir}/${e.name}`;
    if (e.kind === "dir") {
      out[path] = "<dir>";
      Object.assign(out, await _files(fs, path));
    } else out[path] = (await fileText(fs, path)) ?? "<missing>";
  }
  return out;
}

/** Journals are gap-free from seq 1, with exactly one model response per turn 0..n. */
async function _checkJournals(kernel: Kernel): Promise<void> {
  for (const p of kernel.list()) {
    const journal = await kernel.journal(p.pid);
    journal.forEach((e, i) => assert.equal(e.seq, i + 1, `${p.pid}: journal gap at ${i + 1}`));
    const turns = journal.filter((e) => e.kind === "model.response").map((e) => e.turn);
    const expected = turns.map((_, i) => i);
    assert.deepEqual(turns, expected, `${p.pid}: one model.response per turn`);
  }
}

/** What holds of any finished run, crashed or not. */
async function _checkRun(kernel: Kernel, state: EndState, program: readonly Step[]) {
  const audit = await kernel.verifyAudit();
  assert.ok(audit.ok, `the audit chain verifies: ${JSON.stringify(audit)}`);
  await _checkJournals(kernel);
  const rootPid = state.processes.find((p) => p["parent"] === null)?.["pid"] as string;
  const results = state.tools[rootPid] ?? [];
  const onceTurns = _compile(program).flatMap((s, turn) =>
    s.tool === "write_text_file" && s.args["path"] === ONCE ? [turn] : []
  );
  const outcomes = onceTurns.map((turn) => {
    const r = results[turn]?.result;
    return r === undefined ? "missing" : r.ok ? "ok" : r.error.code;
  });
  assert.deepEqual(
    outcomes,
    onceTurns.map((_, i) => i === 0 ? "ok" : "EPERM"),
    "the one-time write runs once; every later one is refused",
  );
  if (onceTurns.length > 0) assert.equal(state.onceUses, 0, "the one-time grant is spent");
}

/**
 * The uninterrupted run's results, where the recovered run may differ: a
 * shell run that the reference ran and the recovered run reports EUNKNOWN
 * (it was in flight at a crash) takes the reference's result.
 */
function _allowUnknownShell(recovered: EndState, reference: EndState): EndState {
  const tools: EndState["tools"] = {};
  for (const [pid, results] of Object.entries(recovered.tools)) {
    const ref = reference.tools[pid] ?? [];
    tools[pid] = results.map((r, i) => {
      const expected = ref[i];
      const unknown = r.name === "run_shell" && !r.result.ok && r.result.error.code === "EUNKNOWN";
      return unknown && expected?.name === "run_shell" && expected.result.ok ? expected : r;
    });
  }
  return { ...recovered, tools };
}

/** Where two JSON-like values differ: "path: expected …, got …" (at most 8). */
function _differences(actual: unknown, expected: unknown, path: string): string[] {
  const object = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";
  if (object(actual) && object(expected) && Array.isArray(actual) === Array.isArray(expected)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
    return keys.flatMap((k) => _differences(actual[k], expected[k], `${path}.${k}`)).slice(0, 8);
  }
  if (JSON.stringify(actual) === JSON.stringify(expected)) return [];
  return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`];
}

// --------------------------------------------------------------- property

async function _property(
  workspace: string,
  program: Step[],
  crashes: CrashPoint[],
): Promise<void> {
  const image = _rootImage(program);

  const reference = _world(workspace);
  const ref = await _live(reference, image, null);
  assert.ok(ref.outcome === "done");
  const batches = ref.store.applied;
  const refState = await _endState(ref.kernel, reference.fs);
  await _checkRun(ref.kernel, refState, program);
  for (const [argv, n] of reference.runs) assert.equal(n, 1, `reference ran ${argv} once`);
  await ref.kernel.close();

  const world = _world(workspace);
  const points = crashes.map((c) => ({ batch: c.at % batches, when: c.when }));
  let life: Life = { outcome: "crashed" };
  const landed: string[] = [];
  for (const point of [...points, null]) {
    life = await _live(world, image, point);
    if (life.outcome === "done") break;
    landed.push(`${point!.when} batch ${point!.batch}`);
  }
  assert.ok(life.outcome === "done", "the last kernel (no crash point) finishes");
  const context = `crashes ${JSON.stringify(points)} (landed: ${landed.join(", ") || "none"}), ` +
    `reference batches ${batches}`;
  try {
    const state = await _endState(life.kernel, world.fs);
    await _checkRun(life.kernel, state, program);
    for (const [argv, n] of world.runs) assert.ok(n <= 1, `${argv} ran ${n} times`);
    for (const [pid, results] of Object.entries(state.tools)) {
      for (const r of results) {
        if (r.name !== "run_shell" || !r.result.ok) continue;
        const argv = (r.result.value as { stdout: string }).stdout.trim().split(" ");
        assert.equal(world.runs.get(JSON.stringify(argv)), 1, `${pid}: ok shell ${argv} ran once`);
      }
    }
    const actual = _allowUnknownShell(state, refState);
    const diffs = _differences(actual, refState, "");
    if (diffs.length > 0) {
      throw new Error(`the end state differs from the uninterrupted run's:\n${diffs.join("\n")}`);
    }
    assert.deepEqual(actual, refState);
  } catch (error) {
    throw new Error(`${context}: ${error instanceof Error ? error.message : error}`, {
      cause: error,
    });
  } finally {
    // A crash point this kernel never reached must not land on its shutdown.
    life.store.crashAt(() => null);
    await life.kernel.close();
  }
}

// ------------------------------------------------------------------ running

function _env(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}

function _parameters(): fc.Parameters<[Step[], CrashPoint[]]> {
  const runs = Number(_env("LIBOS_PROPERTY_RUNS") ?? "200");
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new RangeError(`LIBOS_PROPERTY_RUNS '${runs}' is not a positive integer`);
  }
  const out: fc.Parameters<[Step[], CrashPoint[]]> = { numRuns: runs, examples: EXAMPLES };
  const seed = _env("LIBOS_PROPERTY_SEED");
  if (seed !== undefined) out.seed = Number(seed);
  const path = _env("LIBOS_PROPERTY_PATH");
  if (path !== undefined) out.path = path;
  return out;
}

/**
 * Counterexamples found before, tried first on every run. A delete of a
 * missing file fails ENOENT; crashed after its intent was durable (batch 4:
 * the model response and the fs.delete intent) and before its result was
 * (batch 5), the redo answered ok, unable to tell "the first attempt removed
 * it" from "it never existed".
 */
const EXAMPLES: [Step[], CrashPoint[]][] = [
  [[{ kind: "delete", path: "w/a.txt" }, { kind: "read", path: "w/a.txt" }, {
    kind: "read",
    path: "w/a.txt",
  }], [{ at: 4, when: "after" }]],
];

const NAME = "replay after a crash at any store batch ends exactly as the uninterrupted run";

Deno.test(NAME, async () => {
  await using dir = await _tempDir();
  const property = fc.asyncProperty(
    programArb,
    crashesArb,
    (program, crashes) => _property(dir.path, program, crashes),
  );
  const details = await fc.check(property, _parameters());
  if (!details.failed) return;
  const report = fc.defaultReportMessage(details) ?? "property failed";
  const error = details.errorInstance;
  const reason = error instanceof Error ? error.message : String(error);
  const replay = `LIBOS_PROPERTY_SEED=${details.seed} ` +
    `LIBOS_PROPERTY_PATH=${details.counterexamplePath ?? ""} ` +
    `deno test -A tests/replay_property_test.ts`;
  throw new Error(`${report}\n\n${reason}\n\nReplay: ${replay}`, { cause: error });
});

async function _tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "libos-replay-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
