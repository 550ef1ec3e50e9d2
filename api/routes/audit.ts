/**
 * The audit log: records by pid, action and position, and verification of the
 * whole hash chain against the kernel's head.
 *
 * @module
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";
import { apiRoute, jsonResponse } from "../route_def.ts";
import { AuditQuerySchema, AuditRecordSchema, AuditVerificationSchema } from "../schemas.ts";

const list = apiRoute("viewer", {
  method: "get",
  path: "/v1/audit",
  tags: ["audit"],
  summary: "Audit records in chain order, after a sequence number",
  request: { query: AuditQuerySchema },
  responses: {
    200: jsonResponse(
      z.object({
        records: z.array(AuditRecordSchema),
        head: z.object({ seq: z.number(), hash: z.string() }).nullable(),
      }),
      "The records, and the chain's head",
    ),
  },
}, [400]);

const verify = apiRoute("viewer", {
  method: "get",
  path: "/v1/audit/verify",
  tags: ["audit"],
  summary: "Verify the whole audit chain (every hash and link, up to the kernel's head)",
  responses: {
    200: jsonResponse(AuditVerificationSchema, "The outcome; ok false names the break"),
  },
});

/** Registers the audit routes. */
export function auditRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(list, async (c) => {
    const q = c.req.valid("query");
    const { kernel } = c.var.ctx;
    const records = await kernel.audit({
      ...(q.pid === undefined ? {} : { pid: q.pid }),
      ...(q.action === undefined ? {} : { action: q.action }),
      ...(q.after === undefined ? {} : { afterSeq: q.after }),
      limit: q.limit ?? 100,
    });
    return c.json({ records, head: kernel.auditHead }, 200);
  });

  app.openapi(verify, async (c) => c.json(await c.var.ctx.kernel.verifyAudit(), 200));
}
