/**
 * The CLI as a user runs it: `deno run -A main.ts …` as a subprocess, on a
 * temporary directory that is removed afterwards.
 *
 * @module
 */

/** The CLI's entry point. */
export const MAIN: string = new URL("../main.ts", import.meta.url).pathname;

/** Runs `fn` in a fresh temporary directory, removed afterwards. */
export async function withTemp(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A `libos` command in `cwd`, with no standard input and its output piped. */
export function libos(
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd,
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
  });
}

/** A `libos start` that is serving its API. End it with `stop`. */
export interface RunningKernel extends AsyncDisposable {
  pid: number;
  /** The API's base URL, as the kernel printed it. */
  url: string;
  /** Sends `signal` and waits for the exit; returns the exit status and the output. */
  stop(signal: Deno.Signal): Promise<{ status: Deno.CommandStatus; out: string }>;
}

/**
 * Starts `libos start --data d --workspace . --port 0 --no-sandbox` in `cwd`
 * (plus `args`) and waits until it serves its API.
 */
export async function startKernel(
  cwd: string,
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<RunningKernel> {
  const child = libos(
    [
      "start",
      "--data",
      "d",
      "--workspace",
      ".",
      "--port",
      "0",
      "--no-sandbox",
      ...options.args ?? [],
    ],
    cwd,
    { env: options.env ?? { LIBOS_ADMIN_TOKEN: "" }, timeoutMs: 120_000 },
  ).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let ended: Promise<{ status: Deno.CommandStatus; out: string }> | null = null;
  const stop = (signal: Deno.Signal) => {
    ended ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // it has exited already
      }
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      const err = await new Response(child.stderr).text();
      return { status: await child.status, out: seen + err };
    })();
    return ended;
  };
  let url: string | undefined;
  while ((url = /libos: API on (http:\/\/[^\s/]+)/.exec(seen)?.[1]) === undefined) {
    const { value, done } = await reader.read();
    if (done) {
      const { out } = await stop("SIGKILL");
      throw new Error(`libos start ended before it served its API:\n${out}`);
    }
    seen += value;
  }
  return {
    pid: child.pid,
    url,
    stop,
    [Symbol.asyncDispose]: async () => void await stop("SIGKILL"),
  };
}
