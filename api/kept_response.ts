/**
 * The answer of an idempotent command as it is kept and replayed
 * (api/idempotency.ts), also by a kernel serving a command forwarded to it
 * (api/forwarder.ts).
 *
 * @module
 */
import type { CommandResponse } from "../runtime/mod.ts";

/** The response header of an answer replayed from a stored command. */
export const REPLAYED_HEADER = "Idempotent-Replayed";

/** The headers of an answer worth keeping. */
const _KEPT_HEADERS = ["content-type", "etag", "location"];

/** The answer to keep for a command. */
export async function keepResponse(res: Response): Promise<CommandResponse> {
  const headers: Record<string, string> = {};
  for (const name of _KEPT_HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { status: res.status, body: await res.clone().text(), headers };
}
