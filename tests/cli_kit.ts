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
