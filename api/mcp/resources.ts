/**
 * The MCP resources of the control plane: objects and journals, read by URI
 * (`libos://objects/{oid}`, `libos://journal/{pid}{?after,limit}`). Both are
 * what `GET /v1/objects/{oid}` and `GET /v1/processes/{pid}/journal` answer,
 * as JSON text; any token may read them.
 *
 * @module
 */
import type { Kernel } from "../../runtime/mod.ts";
import { libosError } from "../../runtime/mod.ts";
import { listClusterProcesses, processJournal } from "../process_queries.ts";
import { findObject } from "../cluster_reach.ts";

/** A resource template as `resources/templates/list` publishes it. */
export interface McpResourceTemplate {
  uriTemplate: string;
  name: string;
  title: string;
  description: string;
  mimeType: string;
}

/** The resource templates. */
export const RESOURCE_TEMPLATES: readonly McpResourceTemplate[] = [
  {
    uriTemplate: "libos://objects/{oid}",
    name: "object",
    title: "Object",
    description: "One object of object memory by oid (its newest version), as JSON",
    mimeType: "application/json",
  },
  {
    uriTemplate: "libos://journal/{pid}{?after,limit}",
    name: "journal",
    title: "Journal",
    description: "A process's journal as a JSON array: entries after sequence number `after`, " +
      "at most `limit` (default 200, at most 1000)",
    mimeType: "application/json",
  },
];

/** What a resource URI names. */
export type ResourceTarget =
  | { kind: "object"; oid: string }
  | { kind: "journal"; pid: string; after?: number; limit?: number };

const _ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Parses a resource URI; anything else than the two templates, or a
 * malformed id or page, is `EINVAL` naming the URI and what was expected.
 */
export function parseResourceUri(uri: string): ResourceTarget {
  const bad = (why: string) => libosError("EINVAL", `Cannot read resource '${uri}': ${why}`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw bad("it is not a URI");
  }
  if (url.protocol !== "libos:") {
    throw bad("expected libos://objects/{oid} or libos://journal/{pid}");
  }
  const id = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (url.host === "objects" && url.search === "") {
    if (!_ID.test(id)) throw bad("expected an oid such as o_0a1b2c");
    return { kind: "object", oid: id };
  }
  if (url.host === "journal") {
    if (!_ID.test(id)) throw bad("expected a pid such as p_1");
    const target: ResourceTarget = { kind: "journal", pid: id };
    for (const [key, value] of url.searchParams) {
      const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
      if (key === "after" && Number.isSafeInteger(n)) target.after = n;
      else if (key === "limit" && n >= 1 && n <= 1000) target.limit = n;
      else throw bad(`'${key}=${value}' is not after=<sequence number> or limit=<1..1000>`);
    }
    return target;
  }
  throw bad("expected libos://objects/{oid} or libos://journal/{pid}");
}

/** Reads a resource as JSON text; an unknown object or process is `ENOENT`. */
export async function readResource(kernel: Kernel, target: ResourceTarget): Promise<unknown> {
  switch (target.kind) {
    case "object":
      return await findObject(kernel, target.oid);
    case "journal":
      return await processJournal(kernel, target.pid, {
        ...(target.after === undefined ? {} : { after: target.after }),
        ...(target.limit === undefined ? {} : { limit: target.limit }),
      });
  }
}

/** How many resources one `resources/list` page holds. */
export const RESOURCE_PAGE = 100;

/**
 * One page of `resources/list`: each process's journal, in pid order
 * (objects are reached by oid, from `list_objects`). The cursor is the
 * index of the page's first process.
 */
export async function listResources(
  kernel: Kernel,
  cursor: string | undefined,
): Promise<{ resources: { uri: string; name: string; mimeType: string }[]; nextCursor?: string }> {
  const start = cursor === undefined ? 0 : Number(cursor);
  if (!Number.isSafeInteger(start) || start < 0) {
    throw libosError(
      "EINVAL",
      `Cannot list resources: cursor '${cursor}' is not one this server gave`,
    );
  }
  const processes = await listClusterProcesses(kernel);
  const resources = processes.slice(start, start + RESOURCE_PAGE).map((p) => ({
    uri: `libos://journal/${p.pid}`,
    name: `journal of ${p.pid}`,
    mimeType: "application/json",
  }));
  const next = start + RESOURCE_PAGE;
  return next < processes.length ? { resources, nextCursor: String(next) } : { resources };
}
