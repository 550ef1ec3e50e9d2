/**
 * Authority ceilings: what an operator (a token) may give processes. A
 * ceiling is a list of grant specs the caller may hand out; `null` is no
 * ceiling (an admin). Spawning an inline image, registering an image,
 * granting, forking with capabilities, forking a checkpoint and importing a
 * bundle check every grant they would issue against the caller's ceiling,
 * exactly as a parent's delegable grants bound a child: a grant is within the
 * ceiling when it could be delegated from it (a `deny` always is).
 *
 * @module
 */
import { hasCode, libosError } from "../errors.ts";
import type { GrantSpec } from "../images/schemas.ts";
import type { Grant } from "../types.ts";
import { delegate, issueGrant, validateGrantSpec } from "./capability.ts";

/** A caller's ceiling: the grants it may give, or null for no ceiling. */
export type Ceiling = readonly GrantSpec[] | null;

/**
 * Throws EPERM naming the first spec above `ceiling` and the ceiling itself;
 * `what` says what was being done ("spawn an inline image").
 */
export function checkCeiling(
  specs: readonly GrantSpec[],
  ceiling: Ceiling | undefined,
  options: { what: string; now: number },
): void {
  if (ceiling === null || ceiling === undefined) return;
  let n = 0;
  const held: Grant[] = ceiling.map((spec) =>
    issueGrant({ ...spec, effect: "allow", delegable: true }, {
      subject: "ceiling",
      issuedBy: "ceiling",
      now: options.now,
      nextId: () => `ceiling_${++n}`,
    })
  );
  for (const spec of specs) {
    if (spec.effect === "deny") continue;
    try {
      delegate(held, spec, {
        subject: "check",
        issuedBy: "ceiling",
        now: options.now,
        nextId: () => `check_${++n}`,
      });
    } catch (error) {
      if (!hasCode(error, "EPERM")) throw error;
      throw libosError(
        "EPERM",
        `Cannot ${options.what}: it would give '${spec.resource}' ${
          spec.rights.join(",")
        }, which is above the caller's ceiling (${describeCeiling(ceiling)})`,
        { resource: spec.resource, right: spec.rights.join(",") },
      );
    }
  }
}

/** A ceiling as `resource:rights` items, for messages and the API. */
export function describeCeiling(ceiling: Ceiling): string {
  if (ceiling === null) return "no ceiling";
  if (ceiling.length === 0) return "empty";
  return ceiling.map((s) => `${s.resource}:${s.rights.join(",")}`).join("; ");
}

/**
 * Parses `<resource>:<right>[,<right>…]` (the CLI's `--ceiling`): the rights
 * follow the last colon, so `net:example.com:443:fetch` is `net:example.com:443`
 * with `fetch`.
 */
export function parseCeilingItem(text: string): GrantSpec {
  const i = text.lastIndexOf(":");
  const resource = i <= 0 ? "" : text.slice(0, i);
  const rights = i <= 0
    ? []
    : text.slice(i + 1).split(",").map((r) => r.trim()).filter((r) => r !== "");
  const wrong = (why: string) =>
    libosError(
      "EINVAL",
      `Cannot read ceiling '${text}': expected <resource>:<right>[,<right>…], e.g. 'fs:pub/**:read,write'${why}`,
    );
  if (resource === "" || rights.length === 0) throw wrong("");
  try {
    return validateGrantSpec({ resource, rights }, 0);
  } catch (error) {
    throw wrong(` (${error instanceof Error ? error.message : String(error)})`);
  }
}
