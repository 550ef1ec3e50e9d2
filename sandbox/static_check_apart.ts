/**
 * The static check (`jit_static_check.ts`) run in a process of its own: the
 * TypeScript compiler it parses with holds about 40 MiB once loaded, which a
 * kernel would otherwise keep for its whole life after checking the tools of
 * its folders at start. The process starts on the first check, answers
 * checks one JSON line each, and is let go after {@linkcode IDLE_MS} without
 * one; it has no permission but environment reads and runs none of the code
 * it parses. Where it cannot be started (no `--allow-run`), the check runs in
 * this process, as before.
 *
 * @module
 */
import {
  staticCheck,
  type StaticCheckProfile,
  type StaticCheckResult,
} from "./jit_static_check.ts";

/** How long the checker process waits for another check before it goes, in ms. */
export const IDLE_MS = 10_000;

const _main = new URL("./static_check_main.ts", import.meta.url);
const _config = new URL("../deno.json", import.meta.url);

interface _Pending {
  resolve: (result: StaticCheckResult) => void;
  reject: (error: Error) => void;
}

/** One checker process and the checks it has not answered. */
class _Checker {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, _Pending>();
  readonly #encoder = new TextEncoder();
  #next = 0;
  #idle: number | null = null;
  #closed = false;
  readonly done: Promise<void>;

  constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        `--config=${_config.pathname}`,
        "--no-lock",
        "--allow-env",
        _main.pathname,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.done = this.#read();
  }

  check(source: string, profile: StaticCheckProfile): Promise<StaticCheckResult> {
    this.#clearIdle();
    // Waited for while it checks; not what keeps a kernel alive when idle.
    if (this.#pending.size === 0) this.#child.ref();
    const id = ++this.#next;
    return new Promise<StaticCheckResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const line = this.#encoder.encode(`${JSON.stringify({ id, source, profile })}\n`);
      this.#stdin.write(line).catch((error) => this.#fail(`cannot be written to (${error})`));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearIdle();
    // Whoever closes may wait for the process to end.
    this.#child.ref();
    this.#stdin.close().catch(() => {});
  }

  #clearIdle(): void {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
  }

  async #read(): Promise<void> {
    let buffer = "";
    try {
      for await (
        const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) !== -1) {
          this.#settle(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch {
      // The process went; what it did not answer fails below.
    }
    this.#closed = true;
    this.#fail("ended before it answered");
    await this.#child.status;
  }

  #settle(line: string): void {
    const answer = JSON.parse(line) as { id: number; result?: StaticCheckResult; error?: string };
    const pending = this.#pending.get(answer.id);
    if (pending === undefined) return;
    this.#pending.delete(answer.id);
    if (answer.result !== undefined) pending.resolve(answer.result);
    else pending.reject(new Error(`the static check failed: ${answer.error}`));
    if (this.#pending.size === 0) this.#child.unref();
    if (this.#pending.size === 0 && !this.#closed) {
      const idle = setTimeout(() => this.close(), IDLE_MS) as unknown as number;
      Deno.unrefTimer(idle);
      this.#idle = idle;
    }
  }

  #fail(why: string): void {
    for (const p of this.#pending.values()) {
      p.reject(new Error(`The static check process ${why}`));
    }
    this.#pending.clear();
  }
}

let _checker: _Checker | null = null;
let _inProcess = false;

/**
 * {@linkcode staticCheck}, in the checker process. A check the process could
 * not answer (it could not start, or ended) runs in this process.
 */
export async function staticCheckApart(
  source: string,
  options: { profile?: StaticCheckProfile } = {},
): Promise<StaticCheckResult> {
  const profile = options.profile ?? "jit";
  if (!_inProcess) {
    try {
      if (_checker === null || _checker.closed) _checker = new _Checker();
      return await _checker.check(source, profile);
    } catch (error) {
      // Not allowed to run a process (or it broke): check here from now on.
      if (error instanceof Deno.errors.NotCapable) _inProcess = true;
    }
  }
  return await staticCheck(source, { profile });
}

/** Lets the checker process go now (it goes by itself when idle); for tests and shutdown. */
export async function closeStaticChecker(): Promise<void> {
  const checker = _checker;
  _checker = null;
  if (checker === null) return;
  checker.close();
  await checker.done;
}
