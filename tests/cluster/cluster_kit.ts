/**
 * Kernels of one cluster as subprocesses (`libos start --store postgres://…`,
 * each with its own data directory), for the cluster tests and the failover
 * benchmark; and the polling they use (every loop bounded by a deadline).
 *
 * @module
 */
import { MAIN } from "../cli_kit.ts";

/** The admin token every test kernel takes. */
export const CLUSTER_ADMIN = "test-admin-token-cluster-0123456789";

/** A `libos start` of the cluster. */
export interface Node extends AsyncDisposable {
  name: string;
  pid: number;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Sends a signal. */
  signal(signal: Deno.Signal): void;
  /** Its exit status, once it exited. */
  status: Promise<Deno.CommandStatus>;
}

/**
 * Starts a kernel in `cwd` on `url` with data directory `name` and the
 * workspace `cwd`; resolves once it serves its API. Its output is drained
 * all along (a full pipe would stall it).
 */
export async function startNode(
  cwd: string,
  url: string,
  name: string,
  options: { leaseTtl?: string } = {},
): Promise<Node> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--store",
      url,
      "--data",
      name,
      "--workspace",
      ".",
      "--port",
      "0",
      "--no-sandbox",
      "--lease-ttl",
      options.leaseTtl ?? "1500ms",
    ],
    cwd,
    env: { LIBOS_ADMIN_TOKEN: CLUSTER_ADMIN },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let seen = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) seen += text;
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = drained.then(() => child.status);
  let url_: string | undefined;
  await until(`${name} serves its API`, () => {
    url_ = /libos: API on (http:\/\/[^\s/]+)/.exec(seen)?.[1];
    return url_ !== undefined;
  }, { timeoutMs: 60_000, also: status.then(() => `${name} exited:\n${seen}`) });
  return {
    name,
    pid: child.pid,
    url: url_!,
    output: () => seen,
    signal: (s) => {
      try {
        child.kill(s);
      } catch {
        // exited already
      }
    },
    status,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited already
      }
      await status;
    },
  };
}

/** Calls a kernel's API with the admin token. */
export async function api(
  node: Pick<Node, "url">,
  path: string,
  body?: unknown,
  // deno-lint-ignore no-explicit-any -- answers of many shapes, read field by field
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${CLUSTER_ADMIN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? null : JSON.parse(text) };
}

/**
 * Polls `ready` every 25 ms until it holds; throws, naming `what`, after
 * `timeoutMs` (default 30 s) or when `also` settles first.
 */
export async function until(
  what: string,
  ready: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; also?: Promise<string> } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let failed: string | null = null;
  options.also?.then((why) => failed = why, () => {});
  while (!(await ready())) {
    if (failed !== null) throw new Error(`while waiting until ${what}: ${failed}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
