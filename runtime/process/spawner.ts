/**
 * Makes processes and changes their image: spawn (for an operator or a
 * parent process), fork, exec, and the registration of the images they run.
 *
 * A spawned process gets its image's grants (delegated from its parent's,
 * or issued by the operator within the operator's ceiling) and the ones
 * asked for; a fork keeps its parent's image, cwd and tools; exec never
 * grows a process's capabilities.
 *
 * @module
 */
import { delegate, issueGrant, validateGrantSpec } from "../capability/capability.ts";
import type { Ceiling } from "../capability/ceiling.ts";
import type { GrantTable } from "../capability/grant_table.ts";
import { Batch } from "../engine/batch.ts";
import { withinCeiling } from "../engine/ceiling_guard.ts";
import type { Records } from "../engine/records.ts";
import { LibosError, libosError } from "../errors.ts";
import { validateImage } from "../images/image_loader.ts";
import type { ImageRegistry } from "../images/image_registry.ts";
import {
  type AgentImage,
  type AgentImageInput,
  type GrantSpec,
  GrantSpecSchema,
} from "../images/schemas.ts";
import type { ObjectMemory } from "../memory/object_memory.ts";
import type { ObjectWriter } from "../memory/object_writer.ts";
import { resolveRetention } from "../retention/retention.ts";
import type { Clock } from "../substrate/clock.ts";
import { resolvePath } from "../substrate/workspace_path.ts";
import type {
  Grant,
  ImageRecord,
  ObjectRecord,
  Pid,
  ProcessRecord,
  Retention,
  Usage,
} from "../types.ts";
import { isTerminal } from "./lifecycle.ts";
import type { ProcessLifecycle } from "./process_lifecycle.ts";
import type { ProcessTable } from "./process_table.ts";
import type { Actor, ForkRequest, SpawnRequest } from "./requests.ts";

/** What {@linkcode Spawner} works with. */
export interface SpawnerOptions {
  table: ProcessTable;
  records: Records;
  lifecycle: ProcessLifecycle;
  images: ImageRegistry;
  grants: GrantTable;
  objects: ObjectMemory;
  objectWriter: ObjectWriter;
  clock: Clock;
  /** The kernel's retention setting (a floor under every image's). */
  retention: Retention;
  /** Every tool name a `*` pattern of an image's tool table may match. */
  toolNames: () => readonly string[];
}

/** Options of {@linkcode Spawner.spawn}. */
export interface SpawnOptions {
  actor: string;
  ceiling?: Ceiling;
  /** The parent process, or null for an operator's spawn. */
  parent: ProcessRecord | null;
  /** The process forked (its image, cwd and tools are kept), or null. */
  forkOf: ProcessRecord | null;
  /** Made in this batch, committed by the caller (default: its own, committed). */
  batch?: Batch;
}

/** Spawn, fork, exec and image registration (see the module doc). */
export class Spawner {
  readonly #o: SpawnerOptions;

  constructor(options: SpawnerOptions) {
    this.#o = options;
  }

  /** The image a process runs. */
  image(p: ProcessRecord): AgentImage {
    return this.#o.images.get(p.imageId, p.imageVersion).image;
  }

  /** Registers an image (an operator action): grants within the actor's ceiling. */
  async registerImage(
    image: AgentImageInput,
    options: Actor & { source?: string },
  ): Promise<ImageRecord> {
    const { clock, images, records } = this.#o;
    const parsed = { data: validateImage(image, { source: options.source ?? "inline image" }) };
    for (const spec of parsed.data.capabilities) validateGrantSpec(spec, clock.now());
    await withinCeiling(this.#o, parsed.data.capabilities, {
      ...options,
      what: `register image '${parsed.data.id}'`,
    });
    const before = images.versions(parsed.data.id).find((r) => r.version === parsed.data.version);
    const record = images.register(parsed.data, {
      ...(options.source === undefined ? {} : { source: options.source }),
      now: clock.now(),
    });
    if (before !== record) {
      const batch = new Batch();
      batch.add({ kind: "image.put", image: record });
      records.audit(batch, {
        actor: options.actor,
        action: "image.register",
        detail: { id: record.id, version: record.version, source: record.source },
      });
      await records.commit(batch);
    }
    return record;
  }

  /** Spawns for the operator (parent null) or for a parent process. */
  async spawn(request: SpawnRequest, options: SpawnOptions): Promise<ProcessRecord> {
    const { clock, records, grants: table } = this.#o;
    if (typeof request.goal !== "string" || request.goal.length > 100_000) {
      throw libosError(
        "EINVAL",
        "Cannot spawn: 'goal' must be a string of at most 100,000 characters",
      );
    }
    const now = clock.now();
    const specs = (request.capabilities ?? []).map((s, i) => {
      const parsed = GrantSpecSchema.safeParse(s);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw libosError(
          "EINVAL",
          `Cannot spawn: capabilities[${i}].${issue?.path.join(".") ?? ""}: ${issue?.message}`,
          { field: `capabilities[${i}]` },
        );
      }
      return validateGrantSpec(parsed.data, now);
    });
    const who: Actor = {
      actor: options.actor,
      ...(options.ceiling === undefined ? {} : { ceiling: options.ceiling }),
    };
    // A registered image's grants were checked against its registrar's
    // ceiling; an inline one is checked now, and so is every extra grant.
    if (options.parent === null) await withinCeiling(this.#o, specs, { ...who, what: "spawn" });
    let imageRecord: ImageRecord;
    if (typeof request.image === "string") {
      imageRecord = this.#o.images.get(request.image);
    } else {
      imageRecord = await this.registerImage(request.image, who);
    }
    const image = imageRecord.image;
    const parent = options.parent;
    // A requested cwd is relative to the parent's; none means the parent's own.
    const cwd = request.cwd === undefined
      ? parent?.cwd ?? ""
      : resolvePath(parent?.cwd ?? "", request.cwd);
    if (parent !== null) {
      const limit = parent.budgets.children;
      if (limit !== undefined && parent.usage.children >= limit) {
        throw libosError(
          "EBUDGET",
          `Cannot spawn a child of ${parent.pid}: its children budget (${limit}) is spent`,
          { pid: parent.pid },
        );
      }
    }
    // The ids taken below, ready at once (a burst of spawns on a shared store
    // waits here for a refill instead of running its block dry); no await
    // between the last check and taking them.
    const needs = {
      pid: 1,
      grant: image.capabilities.length + specs.length + 4,
      audit: image.capabilities.length + specs.length + 8,
    };
    for (let i = 0; i < 1_000 && !records.idsAt(needs); i++) await records.idsRefill(needs);
    const batch = options.batch ?? new Batch();
    const pid = records.nextId("pid", "p_", batch);
    // Grants first (they may throw EPERM): nothing is stored until all pass.
    const grants: Grant[] = [];
    const nextGrantId = () => records.nextId("grant", "g_", batch);
    const dropped: GrantSpec[] = [];
    const drawn: [Grant, number][] = [];
    if (parent === null) {
      for (const spec of [...image.capabilities, ...specs]) {
        grants.push(
          issueGrant(spec, { subject: pid, issuedBy: options.actor, now, nextId: nextGrantId }),
        );
      }
    } else {
      // A child gets the image's grants the parent can delegate (the others
      // are dropped and audited) and every grant asked for explicitly, or
      // the spawn is refused.
      const held = table.of(parent.pid);
      // A child's one-time uses are drawn from its parent's: one pool for the tree.
      const issue = {
        subject: pid,
        issuedBy: `pid:${parent.pid}`,
        now,
        nextId: nextGrantId,
        draw: (g: Grant, uses: number) => {
          g.uses = (g.uses ?? 0) - uses;
          drawn.push([g, uses]);
        },
      };
      try {
        if (options.forkOf === null) {
          for (const spec of image.capabilities) {
            try {
              grants.push(...delegate(held, spec, issue));
            } catch (error) {
              if (!(error instanceof LibosError && error.code === "EPERM")) throw error;
              dropped.push(spec);
            }
          }
        }
        for (const spec of specs) grants.push(...delegate(held, spec, issue));
      } catch (error) {
        for (const [g, uses] of drawn) g.uses = (g.uses ?? 0) + uses;
        throw error;
      }
    }
    const src = options.forkOf;
    const p: ProcessRecord = {
      pid,
      parentPid: parent?.pid ?? null,
      lineage: parent === null ? [] : [...parent.lineage, parent.pid],
      imageId: image.id,
      imageVersion: image.version,
      goal: request.goal,
      forkedFrom: src?.pid ?? null,
      state: "created",
      wait: null,
      suspendedFrom: null,
      cwd: src?.cwd ?? cwd,
      tools: src !== null ? [...src.tools] : this.expandTools(image.tools),
      // A fork keeps its parent's registered JIT tools (same tool table).
      jitTools: src !== null ? src.jitTools.filter((t) => t.registered).map((t) => ({ ...t })) : [],
      budgets: { ...image.budgets },
      usage: newUsage(),
      cursor: null,
      recoveries: 0,
      result: null,
      reason: null,
      retention: resolveRetention(this.#o.retention, image.retention, parent?.retention),
      purgedAt: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      endedAt: null,
    };
    this.#o.table.add(p);
    if (parent !== null) {
      parent.usage.children += 1;
      records.saveProcess(batch, parent);
    }
    records.saveProcess(batch, p);
    for (const g of grants) records.saveGrant(batch, g);
    for (const [g] of drawn) records.saveGrant(batch, g);
    records.journal(batch, pid, "lifecycle", {
      from: null,
      to: "created",
      goal: request.goal,
      image: `${image.id}@${image.version}`,
    });
    records.audit(batch, {
      actor: options.actor,
      action: src === null ? "proc.spawn" : "proc.fork",
      pid,
      detail: {
        parent: parent?.pid ?? null,
        image: `${image.id}@${image.version}`,
        grants: grants.map((g) => ({
          id: g.id,
          resource: g.resource,
          rights: g.rights,
          effect: g.effect,
        })),
        dropped: dropped.map((d) => ({ resource: d.resource, rights: d.rights })),
      },
    });
    // Seed memory: the image's objects in the process namespace.
    for (const seed of src === null ? image.memory : []) {
      this.#o.objectWriter.put(batch, {
        namespace: `proc/${pid}`,
        name: seed.name,
        type: seed.type,
        payload: seed.payload,
        provenance: { pid, step: null },
      });
    }
    this.#o.lifecycle.transition(batch, p, "runnable", { actor: options.actor });
    if (options.batch === undefined) await records.commit(batch);
    return p;
  }

  /**
   * Fork: same image, cwd and tools; named grants; objects shared
   * read-only. With `batch`, the child is made in it and nothing is committed.
   */
  async fork(
    parent: ProcessRecord,
    request: ForkRequest,
    options: { actor: string; batch?: Batch },
  ): Promise<ProcessRecord> {
    const { objects, records } = this.#o;
    const actor = options.actor;
    if (isTerminal(parent.state)) {
      throw libosError("ESTATE", `Cannot fork process ${parent.pid}: it is ${parent.state}`, {
        pid: parent.pid,
      });
    }
    const shared: ObjectRecord[] = [];
    for (const ref of request.objects ?? []) {
      const o = objects.get(ref) ?? objects.find(`proc/${parent.pid}`, ref) ??
        _findQualified(objects, ref);
      if (o === undefined || (o.namespace !== `proc/${parent.pid}`)) {
        throw libosError(
          "ENOENT",
          `Cannot share object '${ref}' with a fork: ${parent.pid} has no such object in its namespace`,
          { pid: parent.pid },
        );
      }
      shared.push(o);
    }
    const batch = options.batch ?? new Batch();
    const child = await this.spawn(
      {
        image: parent.imageId,
        goal: request.goal,
        capabilities: [...(request.capabilities ?? [])],
      },
      { actor, parent, forkOf: parent, batch },
    );
    // The parent's own namespace is implicit for the parent only: the child
    // gets a read grant for exactly the objects named.
    for (const o of shared) {
      records.saveGrant(batch, {
        id: records.nextId("grant", "g_", batch),
        subject: child.pid,
        resource: `obj:${o.namespace}/${o.name}`,
        rights: ["read"],
        effect: "allow",
        uses: null,
        expiresAt: null,
        delegable: false,
        parentId: null,
        issuedBy: `pid:${parent.pid}`,
        revoked: false,
        createdAt: this.#o.clock.now(),
      });
    }
    if (options.batch === undefined) await records.commit(batch);
    return child;
  }

  /** Replaces a process's image; capabilities never grow. Returns the live record. */
  async exec(pid: Pid, image: string | AgentImageInput, options: Actor): Promise<ProcessRecord> {
    const { records, table } = this.#o;
    const p = table.get(pid);
    if (isTerminal(p.state)) {
      throw libosError("ESTATE", `Cannot exec in process ${pid}: it is ${p.state}`, { pid });
    }
    const record = typeof image === "string"
      ? this.#o.images.get(image)
      : await this.registerImage(image, options);
    const batch = new Batch();
    p.imageId = record.id;
    p.imageVersion = record.version;
    p.tools = this.expandTools(record.image.tools);
    p.jitTools = [];
    p.cursor = null;
    p.usage.steps = 0;
    p.budgets = { ...record.image.budgets };
    p.retention = resolveRetention(p.retention, record.image.retention);
    table.liveOf(pid).messages = null;
    records.journal(batch, pid, "lifecycle", { exec: `${record.id}@${record.version}` });
    records.saveProcess(batch, p);
    records.audit(batch, {
      actor: options.actor,
      action: "proc.exec",
      pid,
      detail: { image: `${record.id}@${record.version}` },
    });
    await records.commit(batch);
    return p;
  }

  /** Expands an image's tool table: `*` patterns over every known tool. */
  expandTools(names: readonly string[]): string[] {
    const known = this.#o.toolNames();
    const out = new Set<string>();
    for (const n of names) {
      if (n.includes("*")) {
        const re = new RegExp(`^${n.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`);
        for (const t of known) if (re.test(t)) out.add(t);
      } else out.add(n);
    }
    return [...out];
  }
}

function _findQualified(objects: ObjectMemory, ref: string): ObjectRecord | undefined {
  const i = ref.lastIndexOf("/");
  if (i <= 0) return undefined;
  return objects.find(ref.slice(0, i), ref.slice(i + 1));
}

/** The usage of a process that has not run yet: nothing spent, nothing held. */
export function newUsage(): Usage {
  return {
    steps: 0,
    toolCalls: 0,
    tokens: 0,
    children: 0,
    costMicroUsd: 0,
    subtreeTokens: 0,
    subtreeCostMicroUsd: 0,
    reservedTokens: 0,
    reservedCostMicroUsd: 0,
    subtreeReservedTokens: 0,
    subtreeReservedCostMicroUsd: 0,
    invalidTurns: 0,
  };
}
