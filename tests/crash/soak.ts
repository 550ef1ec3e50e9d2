/**
 * The crash soak (`deno task soak [KILLS] [SEED]`, default 1000 kills): the
 * crash harness at length, run by hand. Prints progress and the checks.
 */
import { runCrashCampaign } from "./harness.ts";

const kills = Number(Deno.args[0] ?? "1000");
const seed = Number(Deno.args[1] ?? Date.now() % 1_000_000);
const dir = await Deno.makeTempDir({ prefix: "libos-soak-" });
const t0 = performance.now();
try {
  const result = await runCrashCampaign(dir, {
    kills,
    seed,
    procs: 8,
    // Kills land 100-800 ms after each boot, in enough work to hold them all.
    // (A storm of kills that never lets a boot finish its recovery steps is
    // indistinguishable from a poison pill: the processes would be quarantined.)
    minDelayMs: 100,
    maxDelayMs: 800,
    rounds: Math.max(40, kills * 2),
    sleepMs: 250,
    log: (line) => {
      if (/^boot \d*00:/.test(line)) console.log(line);
    },
  });
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `soak: seed ${seed}, ${result.kills} kills in ${result.boots} boots, ${s} s; ` +
      `${result.acknowledged.spawns.length} spawns and ${result.acknowledged.approvals.length} approvals acknowledged`,
  );
  if (result.problems.length === 0) {
    console.log(
      "soak: every check passed (nothing acknowledged lost, no effect twice, results as uninterrupted, integrity ok, audit chain verified)",
    );
  } else {
    console.log(`soak: ${result.problems.length} problems:\n${result.problems.join("\n")}`);
    Deno.exitCode = 1;
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
