/**
 * What callers ask of the process table: who acts, and the requests of
 * spawn, fork and signal.
 *
 * @module
 */
import type { Ceiling } from "../capability/ceiling.ts";
import type { AgentImageInput, GrantSpec } from "../images/schemas.ts";

/** Who performs an operation from outside the process tree. */
export interface Actor {
  /** e.g. `operator:admin`, `cli`, `human:alice`. */
  actor: string;
  /**
   * What the actor may give processes (a token's ceiling); absent or null:
   * no ceiling. See runtime/capability/ceiling.ts.
   */
  ceiling?: Ceiling;
}

/** What `spawn` takes. */
export interface SpawnRequest {
  /** A registered image id, or an inline image (validated, then registered). */
  image: string | AgentImageInput;
  goal: string;
  /** Extra grants beyond the image's (within the spawner's authority). */
  capabilities?: GrantSpec[];
  /** Initial working directory (workspace-relative). */
  cwd?: string;
}

/** What `fork` takes. */
export interface ForkRequest {
  goal: string;
  /** Grants for the child: each must be covered by the parent's delegable grants. */
  capabilities?: GrantSpec[];
  /** Objects of the parent (refs) the child may read. */
  objects?: string[];
}

/** Signals a process can receive. */
export type Signal = "pause" | "resume" | "cancel" | "kill";
