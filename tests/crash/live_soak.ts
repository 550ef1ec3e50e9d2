/**
 * The live crash soak, run by hand (`deno task soak:live`): the live campaign
 * at full size — 12 agents, `--kills` SIGKILLs (default 40) — for each of
 * several seeds, printing the figures and every problem with its seed.
 *
 *   live_soak.ts [--kills 40] [--seeds 1,2,3] [--agents 12] [--rounds R]
 *                [--min-delay 200] [--max-delay 2000] [--keep]
 *
 * Rounds default to 300, or 12 per kill when that is more: each boot moves
 * the work on by about 9 rounds (the kernel works while it boots), and every
 * kill must land on live work.
 */
import { parseArgs } from "node:util";
import { runLiveCampaign } from "./live_harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kills: { type: "string", default: "40" },
    seeds: { type: "string", default: "1,2,3" },
    agents: { type: "string", default: "12" },
    rounds: { type: "string" },
    "min-delay": { type: "string", default: "200" },
    "max-delay": { type: "string", default: "2000" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
});
const seeds = values.seeds.split(",").map(Number);
const kills = Number(values.kills);
const rounds = Number(values.rounds ?? Math.max(300, 12 * kills));
const agents = Number(values.agents);
console.log(
  `live soak: ${agents} agents, ${rounds} rounds, ${kills} kills, seeds ${seeds.join(", ")}`,
);
let failed = 0;
for (const seed of seeds) {
  const dir = await Deno.makeTempDir({ prefix: `libos-live-soak-${seed}-` });
  try {
    const r = await runLiveCampaign(dir, {
      agents,
      rounds,
      kills,
      seed,
      minDelayMs: Number(values["min-delay"]),
      maxDelayMs: Number(values["max-delay"]),
      log: (line) => {
        if (/the work ended|^boot \d*0: killed/.test(line)) console.log(`seed ${seed}: ${line}`);
      },
    });
    const settled = Object.entries(r.settled).map(([k, n]) => `${n} ${k}`).join(", ") || "none";
    console.log(
      `seed ${seed}: ${r.kills} kills, ${r.landed} on live work, ${r.boots} boots, ` +
        `${r.files} files (${r.stamped} stamped at a kill), ${r.forks} forks, ${r.spawns} spawns, ` +
        `${r.requests} human requests, in-flight writes settled: ${settled}; ` +
        `${(r.ms / 1000).toFixed(0)} s`,
    );
    if (r.problems.length === 0) console.log(`seed ${seed}: every check passed`);
    else {
      failed++;
      console.log(`seed ${seed}: ${r.problems.length} problems:\n  ${r.problems.join("\n  ")}`);
    }
  } finally {
    if (values.keep) console.log(`seed ${seed}: kept ${dir}`);
    else await Deno.remove(dir, { recursive: true });
  }
}
if (failed > 0) {
  console.log(`soak: ${failed} of ${seeds.length} seeds failed`);
  Deno.exitCode = 1;
}
