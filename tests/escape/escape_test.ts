/**
 * The escape corpus (tests/escape/README.md): every hostile fixture tool in
 * `tools/` runs through a real kernel and the real sandbox, under bubblewrap
 * when this machine has it and without it; each attempt's outcome is read
 * from the kernel's journal and audit log and the whole matrix is asserted
 * in one comparison, then the canaries are checked: the secret file, the
 * environment variable and the loopback listener.
 *
 * `LIBOS_ESCAPE_BWRAP=auto|off` runs one confinement only (default: both).
 */
import assert from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { FakeClock, Kernel, LocalFilesystem, type ToolResult } from "../../mod.ts";
import { SandboxTools } from "../../sandbox/mod.ts";
import {
  auditSummary,
  type CallRecord,
  DEADLINE_MS,
  decidingCalls,
  FIXTURES_DIR,
  LIMITS,
  outcomeOf,
  RACE_ITERATIONS,
  runCorpus,
  scanOutcomeOf,
} from "./corpus.ts";
import { type Confinement, expectedAudit, expectedMatrix, KNOWN_GAPS } from "./expected.ts";
import { World } from "./world.ts";

/** Fixtures that only the known-gap test below runs. */
const GAP_ONLY = ["symlink_race_dir"];

async function fixtureNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(FIXTURES_DIR)) {
    if (e.isFile && e.name.endsWith(".ts")) names.push(e.name.slice(0, -3));
  }
  return names.sort();
}

async function hasBubblewrap(): Promise<boolean> {
  await using probe = await SandboxTools.create({ builtins: false, warm: 0 });
  return probe.confinement.kind === "bubblewrap";
}

const only = Deno.env.get("LIBOS_ESCAPE_BWRAP");
const MODES: readonly ("auto" | "off")[] = only === "auto" || only === "off"
  ? [only]
  : (await hasBubblewrap())
  ? ["auto", "off"]
  : ["off"];

function _sorted<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

function _value(call: CallRecord): { escaped: boolean; observed: string } | null {
  return call.result.ok ? call.result.value as { escaped: boolean; observed: string } : null;
}

for (const mode of MODES) {
  Deno.test(`escape corpus (bubblewrap ${mode}): every hostile fixture is blocked, denied, refused or killed as expected, and none reaches a canary, the listener or another process`, async () => {
    const started = performance.now();
    await using world = await World.plant();
    const run = await runCorpus(world, { bubblewrap: mode });
    const confinement: Confinement = run.confinement;
    const calls = decidingCalls(run.calls);
    console.log(
      `escape corpus (${confinement}): ${
        JSON.stringify(
          Object.fromEntries(Object.entries(run.timings).map(([k, v]) => [k, Math.round(v)])),
        )
      }`,
    );

    // Every fixture file ran, was refused at the scan (the two generated static imports are
    // not in tools/) or is the gap test's, and every process finished its script.
    const scanned = Object.keys(run.broken).filter((n) => !n.startsWith("static_import_"));
    assert.deepEqual(
      [...calls.keys(), ...scanned, ...GAP_ONLY].sort(),
      await fixtureNames(),
    );
    assert.deepEqual(
      run.processes.map((p) => [p.state, p.reason]),
      run.processes.map(() => [
        "exited",
        "exit",
      ]),
    );

    // The whole matrix, in one comparison.
    const matrix: Record<string, string> = {};
    for (const [name, call] of calls) matrix[name] = outcomeOf(call);
    // Files the scan refused (the static check) never ran: their outcome is the scan's.
    for (const [name, reason] of Object.entries(run.broken)) matrix[name] = scanOutcomeOf(reason);
    const expected = expectedMatrix(confinement);
    assert.deepEqual(_sorted(matrix), _sorted(expected));

    // What escaped is exactly the known gaps, each with its reason.
    const escaped = Object.keys(matrix).filter((n) => matrix[n] === "ESCAPED").sort();
    assert.deepEqual(
      escaped,
      Object.keys(KNOWN_GAPS).filter((n) => n in expected).filter((n) => expected[n] === "ESCAPED")
        .sort(),
    );

    // The audit records of every attempt, in one comparison: a kernel denial leaves exactly one
    // deny; an attempt blocked in the isolate one `sandbox.deny`; a file refused at the scan one
    // `tool.refuse`; a refusal its refusal and its kill; a kill its kill.
    const audits: Record<string, string[]> = { ...run.scanAudits };
    for (const [name, call] of calls) {
      if (name !== "symlink_race_file") audits[name] = auditSummary(call);
    }
    assert.deepEqual(_sorted(audits), _sorted(expectedAudit(expected)));
    const denying: string[] = ["denied-by-kernel", "blocked-in-isolate", "refused-at-scan"];
    for (const [name, outcome] of Object.entries(matrix)) {
      if (!denying.includes(outcome) || name === "symlink_race_file") continue;
      const denies = audits[name]!.filter((a) => a.endsWith(":deny"));
      assert.equal(denies.length, 1, `${name}: one deny record per denied attempt`);
    }

    // Kills say why: the deadline, the memory limit or the syscall limit.
    const codes: Record<string, string> = {};
    for (const [name, call] of calls) {
      if (matrix[name] === "killed" && !call.result.ok) codes[name] = call.result.error.code;
    }
    const memory = ["memory_heap_bomb", "memory_buffer_bomb"];
    for (const name of memory) {
      // On a loaded machine the 2 s deadline may come before the memory limit: both kill.
      assert.ok(["ENOMEM", "ETIMEDOUT"].includes(codes[name]!), `${name}: ${codes[name]}`);
      delete codes[name];
    }
    assert.deepEqual(_sorted(codes), {
      cpu_busy_loop: "ETIMEDOUT",
      cpu_microtask_loop: "ETIMEDOUT",
      syscall_flood_parallel: "ELIMIT",
      syscall_flood_serial: "ELIMIT",
      timer_spin_after_result: "ETIMEDOUT",
      worker_close: "ETIMEDOUT",
    });

    // The symlink race: the swap really raced the reads, and not one read came from outside;
    // each read left exactly one record, allow or deny as the swap fell.
    const race = calls.get("symlink_race_file")!;
    const counts = JSON.parse(_value(race)!.observed) as Record<string, number>;
    // The swapper shares the event loop with the reads (whose metadata calls
    // are synchronous), so it swaps fewer times than there are reads when the
    // machine is loaded; that reads saw both sides (below) shows the race.
    assert.ok(run.swaps >= RACE_ITERATIONS / 4, `the link was swapped ${run.swaps} times`);
    assert.equal(counts["outside"], 0);
    assert.ok(counts["inside"]! > 0 && counts["EPERM"]! > 0, JSON.stringify(counts));
    assert.equal(counts["inside"]! + counts["EPERM"]!, RACE_ITERATIONS, JSON.stringify(counts));
    const summary = auditSummary(race);
    assert.deepEqual(
      [
        summary.filter((a) => a === "fs.read:allow").length,
        summary.filter((a) => a === "fs.read:deny").length,
        summary.length,
      ],
      [counts["inside"], counts["EPERM"], RACE_ITERATIONS],
    );

    // Two processes' tools could not talk over BroadcastChannel, nor over the global caches.
    for (const name of ["xproc_broadcast_channel", "xproc_caches_global"]) {
      const both = run.calls.filter((c) => c.name === name);
      assert.equal(both.length, 2);
      assert.deepEqual(both.map((c) => _value(c)?.escaped), [false, false], name);
    }

    // The canaries: no result, journal entry or audit record holds the secret file's content,
    // the denied inside file's, or the environment variable's; nothing connected to the
    // listener; the outside folder is as it was planted.
    for (const secret of [world.secret, world.vaultSecret, world.envSecret]) {
      assert.ok(!run.records.includes(secret), "a canary leaked into the kernel's records");
    }
    assert.deepEqual(world.listener.connections, []);
    assert.deepEqual(_sorted(await world.outsideState()), _sorted(world.plantedOutsideState()));
    assert.equal(Deno.env.get("LIBOS_SET_BY_TOOL"), undefined);

    console.log(
      `escape corpus (${confinement}): ${Object.keys(matrix).length} attempts in ${
        Math.round(performance.now() - started)
      } ms ${
        JSON.stringify(
          Object.fromEntries(Object.entries(run.timings).map(([k, v]) => [k, Math.round(v)])),
        )
      }`,
    );
  });
}

/**
 * LocalFilesystem checks a path (resolving every symlink) and then reads it
 * by its host path; a folder swapped for a symlink in between is followed by
 * the host. The corpus's random version of this race (race/d swapped in a
 * loop while a tool reads race/d/secret.txt 200 times) read the canary in
 * 13 of 200 reads; this filesystem makes the swap land in that window every
 * time, so that the gap is shown deterministically.
 */
class SwapBetweenCheckAndRead extends LocalFilesystem {
  readonly #world: World;
  #armed = false;
  #swapped = false;

  constructor(world: World) {
    super(world.ws);
    this.#world = world;
  }

  override async readBytes(path: string): Promise<Uint8Array> {
    this.#armed = path === "race/d/secret.txt";
    try {
      return await super.readBytes(path);
    } finally {
      this.#armed = false;
      if (this.#swapped) this.#world.swapFolderNow();
      this.#swapped = false;
    }
  }

  override async realPath(path: string): Promise<string> {
    const real = await super.realPath(path);
    if (this.#armed && real === "race/d/secret.txt") {
      // The check passed on a real folder; the attacker swaps it before the read.
      this.#armed = false;
      this.#world.swapFolderNow();
      this.#swapped = true;
    }
    return real;
  }
}

Deno.test("LocalFilesystem: a folder swapped for a symlink between sys.fs's path check and its read is caught at the read (same inode or nothing), and audited as a denial", async () => {
  await using world = await World.plant();
  const dir = await Deno.makeTempDir({ prefix: "libos-escape-gap-" });
  try {
    await copyFile(join(FIXTURES_DIR, "symlink_race_dir.ts"), join(dir, "symlink_race_dir.ts"));
    await using tools = await SandboxTools.create({ dirs: [dir], builtins: false, limits: LIMITS });
    await using kernel = await Kernel.create({
      filesystem: new SwapBetweenCheckAndRead(world),
      clock: new FakeClock(Date.UTC(2026, 0, 1)),
      toolHost: tools,
      toolDeadlineMs: DEADLINE_MS,
    });
    const p = await kernel.spawn({
      image: {
        id: "gap",
        name: "gap",
        version: "1",
        model: {
          provider: "scripted",
          steps: [
            {
              tool: "symlink_race_dir",
              args: { path: "race/d/secret.txt", insideText: world.insideText, iterations: 3 },
            },
            { tool: "exit", args: { result: null } },
          ],
        },
        tools: ["symlink_race_dir", "exit"],
        capabilities: [{ resource: "fs:race/**", rights: ["read"] }],
      },
      goal: "read across a swapped folder",
    });
    await kernel.wait(p.pid, { until: "terminal" });
    const end = (await kernel.journal(p.pid)).find((e) =>
      e.kind === "tool.end" && e.data["name"] === "symlink_race_dir"
    )!;
    const result = end.data["result"] as ToolResult;
    assert.ok(!JSON.stringify(result).includes(world.secret), "the outside file was not read");
    const reads = (await kernel.audit({ pid: p.pid, action: "fs.read" })).map((a) =>
      `${a.resource}:${a.decision}`
    );
    assert.deepEqual(reads, Array(3).fill("fs:race/d/secret.txt:deny"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
