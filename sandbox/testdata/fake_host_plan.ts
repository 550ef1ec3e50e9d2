/**
 * A launch plan that starts testdata/fake_host.ts in a given scenario, for
 * tests of the kernel's side of the protocol and of the pool.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { LaunchPlan } from "../host_launch.ts";

const FAKE_HOST = fileURLToPath(new URL("./fake_host.ts", import.meta.url));

/** Plans a fake host that answers each run as `scenario` says. */
export function fakeHostPlan(scenario: string): LaunchPlan {
  return {
    command: Deno.execPath(),
    args: ["run", "--no-config", "--no-lock", "--quiet", FAKE_HOST, scenario],
    env: { NO_COLOR: "1" },
    cwd: "/",
    confinement: { kind: "permissions-only", notice: "" },
    npmRoot: null,
  };
}
