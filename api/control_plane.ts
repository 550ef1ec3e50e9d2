/**
 * The control plane: one Hono app over a kernel — the HTTP API of DESIGN §5,
 * its OpenAPI 3.1 document (`/openapi.json`) and browsable docs (`/docs`),
 * and the web console (`/`). Run it in-process with `plane.request()`, or
 * serve it with {@linkcode serveControlPlane}.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { docsPage } from "./docs_page.ts";
import { bodyLimit } from "hono/body-limit";
import type { Kernel } from "../runtime/mod.ts";
import { consoleRoutes } from "./console/routes.ts";
import type { ApiContext, ApiEnv, ApiLimits } from "./context.ts";
import { EventHub } from "./event_hub.ts";
import { DEFAULT_IDEMPOTENCY_TTL_MS } from "./idempotency.ts";
import { errorResponse, onError, zodIssues } from "./http_errors.ts";
import { type Access, ACCESS_EXTENSION, jsonBodyGuard, type RouteInfo } from "./route_def.ts";
import { auditRoutes } from "./routes/audit.ts";
import { capabilityRoutes } from "./routes/capabilities.ts";
import { checkpointRoutes } from "./routes/checkpoints.ts";
import { eventRoutes } from "./routes/events.ts";
import { humanRoutes } from "./routes/human.ts";
import { Forwarder } from "./forwarder.ts";
import { imageRoutes } from "./routes/images.ts";
import { memoryRoutes } from "./routes/memory.ts";
import { processRoutes } from "./routes/processes.ts";
import { systemRoutes } from "./routes/system.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { TokenStore } from "./token_store.ts";
import { mcpRoutes } from "./mcp/mod.ts";

/** Options of {@linkcode ControlPlane.create}. */
export interface ControlPlaneOptions extends Partial<ApiLimits> {
  /** The admin token's secret (at least 16 characters). */
  adminToken: string;
  /** Events kept for `Last-Event-ID` resumes (default 10,000). */
  eventCapacity?: number;
  /** Largest checkpoint bundle accepted by `POST /v1/checkpoints/import` (default 64 MiB). */
  bundleLimit?: number;
  /**
   * Host names `/mcp` accepts in `Host` and `Origin` (default: loopback
   * only; see api/mcp/rebinding_guard.ts).
   */
  mcpAllowedHosts?: readonly string[];
}

const DEFAULT_LIMITS: ApiLimits = {
  bodyLimit: 1024 * 1024,
  defaultWaitMs: 30_000,
  maxWaitMs: 300_000,
  heartbeatMs: 15_000,
  maxEventStreams: 256,
  maxEventStreamsPerToken: 16,
  adminEventStreams: 16,
  idempotencyTtlMs: DEFAULT_IDEMPOTENCY_TTL_MS,
};

/** The API's version, as the OpenAPI document states it. */
export const API_VERSION = "1.0.0";

/** The control plane of one kernel. */
export class ControlPlane implements AsyncDisposable {
  /** The Hono app (its `fetch` serves requests). */
  readonly app: OpenAPIHono<ApiEnv>;
  readonly kernel: Kernel;
  readonly tokens: TokenStore;
  readonly events: EventHub;
  readonly #closing = new AbortController();

  private constructor(
    kernel: Kernel,
    tokens: TokenStore,
    events: EventHub,
    app: OpenAPIHono<ApiEnv>,
  ) {
    this.kernel = kernel;
    this.tokens = tokens;
    this.events = events;
    this.app = app;
  }

  /** Builds the app over a running kernel. */
  static async create(kernel: Kernel, options: ControlPlaneOptions): Promise<ControlPlane> {
    const tokens = TokenStore.open(kernel, { adminToken: options.adminToken });
    const events = new EventHub(kernel, { capacity: options.eventCapacity ?? 10_000 });
    const maxEventStreams = options.maxEventStreams ?? DEFAULT_LIMITS.maxEventStreams;
    const limits: ApiLimits = {
      bodyLimit: options.bodyLimit ?? DEFAULT_LIMITS.bodyLimit,
      defaultWaitMs: options.defaultWaitMs ?? DEFAULT_LIMITS.defaultWaitMs,
      maxWaitMs: options.maxWaitMs ?? DEFAULT_LIMITS.maxWaitMs,
      heartbeatMs: options.heartbeatMs ?? DEFAULT_LIMITS.heartbeatMs,
      maxEventStreams,
      maxEventStreamsPerToken: options.maxEventStreamsPerToken ??
        DEFAULT_LIMITS.maxEventStreamsPerToken,
      // Never more than half of a small cap, so that other tokens keep the rest.
      adminEventStreams: options.adminEventStreams ??
        Math.min(DEFAULT_LIMITS.adminEventStreams, Math.floor(maxEventStreams / 2)),
      idempotencyTtlMs: options.idempotencyTtlMs ?? DEFAULT_LIMITS.idempotencyTtlMs,
    };
    if (!(Number.isSafeInteger(limits.idempotencyTtlMs) && limits.idempotencyTtlMs > 0)) {
      throw new RangeError(
        `Cannot create a control plane: idempotencyTtlMs must be a positive integer, got ${limits.idempotencyTtlMs}`,
      );
    }
    _checkStreamLimits(limits);
    const app = new OpenAPIHono<ApiEnv>({
      defaultHook: (result, c) => {
        if (!result.success) {
          return errorResponse(c, 400, {
            code: "EINVAL",
            message: `Cannot accept the request: its ${result.target} fails validation`,
            issues: zodIssues(result.error),
          });
        }
      },
    });
    const plane = new ControlPlane(kernel, tokens, events, app);
    // Requests forwarded here by other kernels are served through these routes.
    const forwarder = new Forwarder(kernel, async (request) => await app.fetch(request));
    plane.#closing.signal.addEventListener("abort", () => forwarder[Symbol.dispose](), {
      once: true,
    });
    const ctx: ApiContext = {
      kernel,
      tokens,
      events,
      limits,
      closing: plane.#closing.signal,
      forwarder,
    };
    app.onError(onError);
    app.notFound((c) =>
      errorResponse(c, 404, {
        code: "ENOENT",
        message: `Cannot ${c.req.method} ${c.req.path}: no such route`,
      })
    );
    app.use("*", async (c, next) => {
      c.set("ctx", ctx);
      await next();
      c.header("x-content-type-options", "nosniff");
    });
    const tooLarge = (max: number) =>
      bodyLimit({
        maxSize: max,
        onError: (c) =>
          errorResponse(c, 413, {
            code: "ELIMIT",
            message: `Cannot accept the request: its body is over ${max} bytes`,
          }),
      });
    app.use("/v1/checkpoints/import", tooLarge(options.bundleLimit ?? 64 * 1024 * 1024));
    app.use("/v1/*", async (c, next) => {
      if (c.req.path === "/v1/checkpoints/import") return await next();
      return await tooLarge(limits.bodyLimit)(c, next);
    });
    // After the size limit, before any route parses or validates a body.
    app.use("/v1/*", jsonBodyGuard());

    systemRoutes(app);
    clusterRoutes(app);
    processRoutes(app);
    capabilityRoutes(app);
    memoryRoutes(app);
    humanRoutes(app);
    imageRoutes(app);
    auditRoutes(app);
    eventRoutes(app);
    checkpointRoutes(app);
    mcpRoutes(app, {
      version: API_VERSION,
      ...(options.mcpAllowedHosts === undefined ? {} : { allowedHosts: options.mcpAllowedHosts }),
    });

    app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
      type: "http",
      scheme: "bearer",
      description: "A token with role viewer, operator or admin (x-libos-role on each route)",
    });
    const docConfig = {
      openapi: "3.1.0",
      info: {
        title: "Agent libOS control plane",
        version: API_VERSION,
        description: "Processes, capabilities, the human queue, memory, checkpoints, audit " +
          "and events of an Agent libOS kernel. Roles: viewer reads; operator also spawns, " +
          "signals, forks, registers images, decides human requests and takes checkpoints; " +
          "admin also grants and revokes capabilities, restores, exports and imports " +
          "checkpoints and manages tokens.",
      },
    } as const;
    app.doc31("/openapi.json", docConfig);
    const docs = docsPage(
      app.getOpenAPI31Document(docConfig) as unknown as Parameters<typeof docsPage>[0],
    );
    app.get("/docs", (c) => c.html(docs));
    await consoleRoutes(app);
    // Expired idempotency keys are forgotten at start and every hour.
    await kernel.commands.purge();
    const sweep = setInterval(() => {
      if (!kernel.closed) kernel.commands.purge().catch(() => {});
    }, 60 * 60 * 1000);
    Deno.unrefTimer(sweep);
    plane.#closing.signal.addEventListener("abort", () => clearInterval(sweep), { once: true });
    return plane;
  }

  /** Serves one request (what `Deno.serve` calls). */
  fetch = (request: Request): Response | Promise<Response> => this.app.fetch(request);

  /** Serves a request in-process: `plane.request("/v1/health")`. */
  request(input: string | Request, init?: RequestInit): Response | Promise<Response> {
    return this.app.request(input, init);
  }

  /** Every API route with the access it needs, from the OpenAPI registry. */
  routes(): RouteInfo[] {
    const out: RouteInfo[] = [];
    for (const def of this.app.openAPIRegistry.definitions) {
      if (def.type !== "route") continue;
      const route = def.route as unknown as Record<string, unknown>;
      out.push({
        method: String(route["method"]).toUpperCase(),
        path: String(route["path"]),
        access: route[ACCESS_EXTENSION] as Access,
      });
    }
    return out;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * Ends open event streams and long polls (they answer at once). The kernel
   * is the caller's to close.
   */
  close(): void {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.events.close();
  }

  /** Same as close(). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

function _checkStreamLimits(limits: ApiLimits): void {
  const { maxEventStreams: max, maxEventStreamsPerToken: perToken, adminEventStreams: reserve } =
    limits;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot create a control plane: maxEventStreams must be a positive integer, got ${max}`,
    );
  }
  if (!Number.isInteger(perToken) || perToken < 1) {
    throw new RangeError(
      `Cannot create a control plane: maxEventStreamsPerToken must be a positive integer, got ${perToken}`,
    );
  }
  if (!Number.isInteger(reserve) || reserve < 0 || reserve >= max) {
    throw new RangeError(
      `Cannot create a control plane: adminEventStreams must be an integer from 0 to maxEventStreams - 1 (${
        max - 1
      }), got ${reserve}`,
    );
  }
}
