/**
 * The world the escape corpus attacks: a workspace and, beside it, a folder
 * the tools must never reach, holding a canary secret; a canary environment
 * variable in the kernel's process; a loopback TCP listener that records
 * every connection; the workspace's hostile symlinks; and symlink swappers
 * that race the tools' reads.
 *
 * ```
 * <root>/ws/            the workspace (LocalFilesystem)
 *   inside.txt          ordinary content
 *   café/secret.txt     inside, but denied to the main process (NFC name)
 *   scratch/            a real folder
 *   link_out_file  → <root>/outside/secret.txt      link_rel_out → ../outside/secret.txt
 *   link_out_dir   → <root>/outside                 link_chain   → link_out_file
 *   link_proc      → /proc/self/environ             link_dev     → /dev/zero
 *   link_vault     → café/secret.txt
 *   race/link      swapped: inside.txt ⇄ <root>/outside/secret.txt
 *   race/d         a real folder, swapped at will with race/d_other (a symlink to <root>/outside)
 * <root>/outside/       secret.txt, secret.json, mod.js (all hold the canary), victim.txt
 * <root>/gen/           tool files written at run time (static imports of the canary)
 * ```
 *
 * @module
 */
import { join } from "node:path";

/** The environment variable the test process holds and no tool may read. */
export const ENV_CANARY = "LIBOS_ESCAPE_CANARY";

/** A loopback TCP listener that records who connected. */
export class LoopbackListener implements AsyncDisposable {
  readonly port: number;
  /** The remote address of every connection accepted. */
  readonly connections: string[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #loop: Promise<void>;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#loop = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.connections.push(`${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`);
        conn.close();
      }
    } catch {
      // Closed.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#loop;
  }
}

/** A loop that swaps one workspace entry between an inside and an outside target. */
export interface Swapper {
  /** Swaps done so far. */
  readonly swaps: number;
  /** Stops the loop and waits for it. */
  stop(): Promise<void>;
}

/** Swaps at most this many times, whatever happens. */
const _MAX_SWAPS = 200_000;

function _swapLoop(swap: (i: number) => Promise<void>): Swapper {
  let stopped = false;
  let swaps = 0;
  const loop = (async () => {
    while (!stopped && swaps < _MAX_SWAPS) {
      await swap(swaps);
      swaps += 1;
    }
  })();
  return {
    get swaps() {
      return swaps;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Everything the corpus plants, and what every fixture is told about it. */
export class World implements AsyncDisposable {
  readonly root: string;
  readonly ws: string;
  readonly outside: string;
  readonly gen: string;
  /** The canary outside the workspace. */
  readonly secret = `LIBOS-CANARY-${crypto.randomUUID()}`;
  /** The content of café/secret.txt: inside the workspace, denied to the main process. */
  readonly vaultSecret = `LIBOS-VAULT-${crypto.randomUUID()}`;
  /** The value of {@linkcode ENV_CANARY} in the test process. */
  readonly envSecret = `LIBOS-ENV-${crypto.randomUUID()}`;
  /** The text of every file a race may legitimately read. */
  readonly insideText = "inside the workspace";
  readonly listener: LoopbackListener;
  readonly #envBefore: string | undefined;

  private constructor(root: string) {
    this.root = root;
    this.ws = join(root, "ws");
    this.outside = join(root, "outside");
    this.gen = join(root, "gen");
    this.listener = new LoopbackListener();
    this.#envBefore = Deno.env.get(ENV_CANARY);
    Deno.env.set(ENV_CANARY, this.envSecret);
  }

  /** Plants the canaries, the workspace and its symlinks. */
  static async plant(): Promise<World> {
    const w = new World(await Deno.makeTempDir({ prefix: "libos-escape-" }));
    const { ws, outside } = w;
    for (
      const dir of [ws, outside, w.gen, join(ws, "café"), join(ws, "scratch"), join(ws, "race")]
    ) {
      await Deno.mkdir(dir, { recursive: true });
    }
    await Deno.writeTextFile(join(outside, "secret.txt"), w.secret);
    await Deno.writeTextFile(join(outside, "secret.json"), JSON.stringify({ token: w.secret }));
    await Deno.writeTextFile(
      join(outside, "mod.js"),
      `export default ${JSON.stringify(w.secret)};\n`,
    );
    await Deno.writeTextFile(join(outside, "victim.txt"), "victim");
    await Deno.writeTextFile(join(ws, "inside.txt"), w.insideText);
    await Deno.writeTextFile(join(ws, "café", "secret.txt"), w.vaultSecret);
    const links: [string, string][] = [
      ["link_out_file", join(outside, "secret.txt")],
      ["link_out_dir", outside],
      ["link_rel_out", "../outside/secret.txt"],
      ["link_chain", "link_out_file"],
      ["link_proc", "/proc/self/environ"],
      ["link_dev", "/dev/zero"],
      ["link_vault", "café/secret.txt"],
    ];
    for (const [name, target] of links) await Deno.symlink(target, join(ws, name));
    await Deno.writeTextFile(join(ws, "race", "inside.txt"), w.insideText);
    await Deno.symlink("inside.txt", join(ws, "race", "link"));
    await Deno.mkdir(join(ws, "race", "d"));
    await Deno.writeTextFile(join(ws, "race", "d", "secret.txt"), w.insideText);
    await Deno.symlink(outside, join(ws, "race", "d_other"));
    // Static imports of the canary, in real tool files: refused when the folder is scanned.
    const url = new URL(`file://${join(outside, "secret.txt")}`).href;
    await Deno.writeTextFile(
      join(w.gen, "static_import_absolute.ts"),
      _staticImportTool("static_import_absolute", url),
    );
    await Deno.writeTextFile(
      join(w.gen, "static_import_relative.ts"),
      _staticImportTool("static_import_relative", "../outside/secret.txt"),
    );
    return w;
  }

  /** The arguments every fixture receives (each keeps the fields it declares). */
  get context(): Record<string, string | number> {
    return {
      canaryFile: join(this.outside, "secret.txt"),
      canaryJson: join(this.outside, "secret.json"),
      canaryDir: this.outside,
      envName: ENV_CANARY,
      port: this.listener.port,
      kernelPid: Deno.pid,
    };
  }

  /** Swaps race/link between race/inside.txt and the canary, atomically (a rename over it). */
  swapFileLink(): Swapper {
    const link = join(this.ws, "race", "link");
    const spare = join(this.ws, "race", "link.next");
    const outside = join(this.outside, "secret.txt");
    return _swapLoop(async (i) => {
      await Deno.symlink(i % 2 === 0 ? outside : "inside.txt", spare);
      await Deno.rename(spare, link);
      // One swap per macrotask: the kernel's own work goes on between swaps.
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
  }

  /**
   * Swaps race/d between a real folder (holding secret.txt with the inside
   * text) and a symlink to the outside folder, at once (three renames).
   */
  swapFolderNow(): void {
    const d = join(this.ws, "race", "d");
    const other = join(this.ws, "race", "d_other");
    const parked = join(this.ws, "race", "d_parked");
    Deno.renameSync(d, parked);
    Deno.renameSync(other, d);
    Deno.renameSync(parked, other);
  }

  /** Every file under the outside folder with its content: what no tool may change. */
  async outsideState(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for await (const e of Deno.readDir(this.outside)) {
      out[e.name] = e.isFile ? await Deno.readTextFile(join(this.outside, e.name)) : "(not a file)";
    }
    return out;
  }

  /** The outside folder as planted. */
  plantedOutsideState(): Record<string, string> {
    return {
      "mod.js": `export default ${JSON.stringify(this.secret)};\n`,
      "secret.json": JSON.stringify({ token: this.secret }),
      "secret.txt": this.secret,
      "victim.txt": "victim",
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.listener[Symbol.asyncDispose]();
    if (this.#envBefore === undefined) Deno.env.delete(ENV_CANARY);
    else Deno.env.set(ENV_CANARY, this.#envBefore);
    await Deno.remove(this.root, { recursive: true });
  }
}

function _staticImportTool(name: string, specifier: string): string {
  return `import { defineTool, z } from "libos/tool";
import secret from ${JSON.stringify(specifier)} with { type: "text" };

export default defineTool({
  name: "${name}",
  description: "Imports the canary statically",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run: () => Promise.resolve({ escaped: true, observed: String(secret) }),
});
`;
}
