/**
 * The `libos` command line. Thin: it picks a command; the commands live in
 * cli/ (one file per family) and call the library.
 *
 * ```
 * libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
 *             [--port 8787] [--host 127.0.0.1] [--store sqlite|postgres://…]
 * libos verify [--data DIR | --store postgres://…]   verify the audit chain of a store
 * libos image check F…               validate image files
 * libos ps | show PID | spawn --image F --goal G | approve ID | deny ID
 *       | audit verify | token create --role R      (over the API of a running kernel)
 * ```
 *
 * @module
 */
import {
  errorLines,
  image,
  mcpCall,
  parseDuration,
  remote,
  safeLine,
  start,
  verify,
} from "./cli/mod.ts";

export { parseDuration };

const USAGE = `libos — Agent libOS for Deno

Usage:
  libos start [--image F] [--goal G] [--data DIR] [--workspace DIR] [--once]
              [--port 8787] [--host 127.0.0.1] [--tools DIR]... [--no-sandbox]
              [--unconfined-shell] [--retention keep|purge_on_exit]
              [--idempotency-ttl 24h]
              [--store sqlite|postgres://USER@HOST:PORT/DB[?schema=S]] [--lease-ttl 5s]
              [--mcp FILE]
      Boot the kernel on DIR (default .libos), serve the HTTP API and the web
      console on host:port (--port 0 picks a free port), spawn the image's
      process if given, and report what happens. Pending human requests are
      answered on standard input: "approve h_1", "deny h_1", "answer h_1 <text>",
      "happened h_1 [JSON]", "retry h_1", "fail h_1", or in the console. --once exits when that process ends (status 0 if it
      exited, else 1). The admin token is LIBOS_ADMIN_TOKEN, else DIR/admin.token
      (generated at the first start, mode 0600, and printed once). One kernel
      at a time holds DIR (DIR/kernel.lock): a second start there fails at once.
      --retention purge_on_exit replaces every ended process's model inputs and
      outputs, tool results and human previews and answers by their sha-256
      digests and sizes (README "Retention"); default keep, unless an image says so.
      An Idempotency-Key sent with a command is kept for --idempotency-ttl.
      --store (default LIBOS_STORE, else sqlite) keeps the kernel's state in
      DIR/kernel.db (SQLite) or in a PostgreSQL database, in schema S (default
      libos); DIR still holds the lock and the admin token. Several kernels,
      each with its own DIR, may share one PostgreSQL store: a cluster
      (docs/cluster.md). A kernel that has not heartbeaten for --lease-ttl is
      declared dead and the others adopt its processes; a kernel that finds
      its lease lost stops and exits with status 3.
      --mcp FILE (default LIBOS_MCP) names the operator's MCP servers
      ({"mcpServers": {...}}, JSONC); images list the tools they want.
  libos verify [--data DIR | --store URL]
                                 Verify the audit chain of a data directory's database,
                                 or of a PostgreSQL store. It opens the store read-only
                                 and writes nothing, so it also runs beside a kernel.
  libos image check F...         Validate image files (file:line:column on error).
  libos mcp call --url URL [--tool NAME] [--args JSON] [--header 'K: V']...
                                 Connect the kernel's MCP client to a streamable HTTP
                                 server, list its tools, call one, print the result.

  Over the API of a running kernel (--url, default LIBOS_URL or
  http://127.0.0.1:8787; --token, default LIBOS_TOKEN, LIBOS_ADMIN_TOKEN or
  DIR/admin.token with --data DIR; each command carries a fresh
  Idempotency-Key and is retried with it when the kernel cannot be reached):
  libos ps                       List processes.
  libos show PID                 A process: state, grants, pending requests, journal tail.
  libos spawn --image F --goal G Spawn from an image file F (or a registered image id F).
  libos approve ID [--always]    Approve a pending human request (once, or always).
  libos deny ID                  Deny a pending human request.
  libos outcome ID happened|retry|fail [--value JSON]
                                 Settle an outcome request: the call took effect (its
                                 result, default null), runs once more, or fails EUNKNOWN.
  libos audit verify             Verify the kernel's audit chain.
  libos token create --role R [--name N] [--ceiling 'RESOURCE:RIGHTS']...
                                 Mint a token (R: viewer, operator, admin); printed once.
  libos checkpoint PID [--reason R] [--subtree]   Checkpoint a process.
  libos checkpoints PID          List a process's checkpoints.
  libos restore CHECKPOINT       Roll its processes back in place (admin).
  libos export CHECKPOINT --out FILE   Write its bundle (admin).
  libos import FILE              Import a bundle; its processes resume here (admin).
  libos help                     This text.
`;

async function main(argv: string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "start":
      return await start(rest);
    case "verify":
      return await verify(rest);
    case "image":
      return await image(rest);
    case "mcp":
      return await mcpCall(rest);
    case "ps":
    case "show":
    case "spawn":
    case "approve":
    case "deny":
    case "outcome":
    case "audit":
    case "token":
    case "checkpoint":
    case "checkpoints":
    case "restore":
    case "export":
    case "import":
      return await remote(command, rest);
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return 0;
    default:
      console.error(safeLine`libos: unknown command '${command}'` + `\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    for (const l of errorLines(error)) console.error(`libos: ${l}`);
    Deno.exit(1);
  }
}
