/**
 * The one place where errors become HTTP answers. Every error answer is
 * `{error: {code, message, issues?}}` and never carries a stack.
 *
 * | cause                                   | status |
 * | --------------------------------------- | ------ |
 * | validation (zod), `EINVAL`               | 400    |
 * | no or unknown bearer token              | 401    |
 * | role too weak, `EPERM`                  | 403    |
 * | `ENOENT`, unknown route                 | 404    |
 * | `ESTATE`, `EEXIST`, `EEXPIRED` (illegal transition, second decision, taken name, an answer after expiry) | 409 |
 * | an `If-Match` naming another revision (`EREVISION`, with the current object) | 412 |
 * | request body over the limit             | 413    |
 * | `EQUOTA`, `ELIMIT`, `EBUDGET` (a well-formed request the kernel's limits refuse) | 422 |
 * | anything else (a `TypeError` too)       | 500, with a generic message |
 * | `ETIMEDOUT`: a command forwarded to the kernel owning its process was not answered in time | 504 |
 *
 * 413 is kept for the request body itself; a quota or limit of the kernel's
 * state is 422, since resending the same request cannot help either way but
 * the request as such was acceptable.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ZodError } from "zod";
import { type ErrorCode, errorText, LibosError, logLine } from "../runtime/mod.ts";
import { etag, RevisionMismatch } from "./revision.ts";

/** One validation issue. */
export interface Issue {
  path: string;
  message: string;
}

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; issues?: Issue[] };
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  EINVAL: 400,
  EPERM: 403,
  ENOENT: 404,
  ESTATE: 409,
  EEXIST: 409,
  EEXPIRED: 409,
  ESTALE: 409,
  EQUOTA: 422,
  // A forwarded command the owning kernel did not answer in time.
  ETIMEDOUT: 504,
  ELIMIT: 422,
  EBUDGET: 422,
};

/** The status a kernel error code maps to (500 for codes the API never expects). */
export function statusOfCode(code: ErrorCode): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? 500;
}

/** The issues of a zod error, with dotted paths. */
export function zodIssues(error: ZodError): Issue[] {
  return error.issues.slice(0, 50).map((i) => ({
    path: i.path.map(String).join("."),
    message: i.message,
  }));
}

/** A JSON error answer. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  body: ErrorBody["error"],
  headers: Record<string, string> = {},
): Response {
  return c.json({ error: body } satisfies ErrorBody, status, headers);
}

/** `app.onError`: maps whatever a handler threw. */
export function onError(error: unknown, c: Context): Response {
  if (error instanceof RevisionMismatch) {
    return c.json(
      { error: { code: "EREVISION", message: error.message }, current: error.current },
      412,
      { etag: etag(error.current.revision) },
    );
  }
  if (error instanceof LibosError) {
    const status = statusOfCode(error.code);
    if (status === 500) return _internal(c, error);
    return errorResponse(c, status, { code: error.code, message: error.message });
  }
  if (error instanceof ZodError) {
    return errorResponse(c, 400, {
      code: "EINVAL",
      message: "Cannot accept the request: it fails validation",
      issues: zodIssues(error),
    });
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = status === 413 ? "ELIMIT" : status < 500 ? "EINVAL" : "EINTERNAL";
    return errorResponse(c, status, { code, message: error.message || _reason(status) });
  }
  // Anything else — a TypeError included — is the kernel's own fault: its
  // text is for the log, never for the client (a caller's mistake is a
  // LibosError EINVAL or a zod issue, with words the kernel wrote).
  return _internal(c, error);
}

function _internal(c: Context, error: unknown): Response {
  console.error(logLine(`libos api: ${c.req.method} ${c.req.path} failed: ${errorText(error)}`));
  return errorResponse(c, 500, { code: "EINTERNAL", message: "Internal error" });
}

function _reason(status: number): string {
  return status === 415 ? "Unsupported media type" : `HTTP ${status}`;
}
