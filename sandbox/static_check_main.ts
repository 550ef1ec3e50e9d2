/**
 * The static check's own process (see `static_check_apart.ts`): reads one
 * JSON request a line on stdin (`{ id, source, profile }`), answers one JSON
 * line on stdout (`{ id, result }` or `{ id, error }`), and ends with stdin.
 * It parses tool source with the TypeScript compiler and runs none of it; it
 * is started with no permission but environment reads (the compiler reads
 * its `TSC_*` settings).
 *
 * @module
 */
import { staticCheck, type StaticCheckProfile } from "./jit_static_check.ts";

interface _Request {
  id: number;
  source: string;
  profile: StaticCheckProfile;
}

const _encoder = new TextEncoder();

async function _answer(line: string): Promise<void> {
  let id: number | null = null;
  let out: Record<string, unknown>;
  try {
    const request = JSON.parse(line) as _Request;
    id = request.id;
    out = { id, result: await staticCheck(request.source, { profile: request.profile }) };
  } catch (error) {
    out = { id, error: error instanceof Error ? error.message : String(error) };
  }
  const bytes = _encoder.encode(`${JSON.stringify(out)}\n`);
  let at = 0;
  while (at < bytes.length) at += Deno.stdout.writeSync(bytes.subarray(at));
}

let pending = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += chunk;
  let nl: number;
  while ((nl = pending.indexOf("\n")) !== -1) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.trim() !== "") await _answer(line);
  }
}
