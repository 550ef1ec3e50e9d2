/**
 * The cluster: every kernel on the store, its lease and its load
 * (docs/cluster.md).
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";
import { apiRoute, jsonResponse } from "../route_def.ts";

const KernelInfoSchema = z.object({
  id: z.string().openapi({ example: "k_3" }),
  host: z.string(),
  pid: z.number().int(),
  startedAt: z.number().int(),
  heartbeatAt: z.number().int(),
  ttlMs: z.number().int(),
  epoch: z.number().int(),
  state: z.enum(["alive", "dead", "stopped"]),
  leaseExpiresAt: z.number().int(),
  liveProcesses: z.number().int().openapi({ description: "Owned processes not ended" }),
  processes: z.number().int().openapi({ description: "Owned processes, ended ones too" }),
}).openapi("KernelInfo");

const ClusterSchema = z.object({
  self: z.string().openapi({ description: "The id of the kernel that answered" }),
  now: z.number().int().openapi({ description: "The store's clock, which leases are read by" }),
  kernels: z.array(KernelInfoSchema),
}).openapi("Cluster");

const getCluster = apiRoute("viewer", {
  method: "get",
  path: "/v1/cluster",
  tags: ["system"],
  summary: "Every kernel on the store: its lease (owner, epoch, expiry) and its load",
  responses: { 200: jsonResponse(ClusterSchema, "The kernels") },
});

/** Registers `GET /v1/cluster`. */
export function clusterRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(getCluster, async (c) => c.json(await c.var.ctx.kernel.cluster(), 200));
}
