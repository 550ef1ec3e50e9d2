/**
 * The in-sandbox half of the shell network proxy: a standalone Deno script
 * (no imports) that bubblewrap starts instead of the program when a run has
 * a proxy. It listens on 127.0.0.1:<port> in the sandbox's own, otherwise
 * empty network namespace, forwards every accepted connection byte for byte
 * to the kernel's proxy over the unix socket bound into the sandbox, and runs
 * the program as its child with exactly the given environment and its own
 * standard input, output and error (a run's standard input is empty; an MCP
 * server's carries its requests). When the program ends, the
 * relay exits with the program's code (128 + the signal number when a signal
 * ended it, as bubblewrap reports).
 *
 * Usage (the shell provider builds it; see `relayInvocation` in
 * shell_proxy.ts): `deno run --allow-net=127.0.0.1:<port>,unix:<socket>
 * --allow-read=<socket> --allow-write=<socket> --allow-run=<program>
 * shell_relay.ts <port> <socket> <env as JSON> <program> [args…]`. Its Deno
 * permissions are tidiness, not the boundary: the program could reach the
 * socket itself; bubblewrap and the kernel's proxy are what confine both.
 *
 * @module
 */

const _SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGSYS: 31,
};

/** Exit code when the relay itself cannot start (the program never ran). */
const _RELAY_FAILED = 125;

/** Exit code when the program cannot be started (as a shell reports it). */
const _NOT_RUN = 127;

async function _main(args: string[]): Promise<number> {
  const [portText, socketPath, envJson, program, ...programArgs] = args;
  if (socketPath === undefined || envJson === undefined || program === undefined) {
    console.error("libos relay: usage: <port> <socket> <env JSON> <program> [args…]");
    return _RELAY_FAILED;
  }
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: Number(portText) });
  } catch (error) {
    console.error(`libos relay: cannot listen on 127.0.0.1:${portText}: ${String(error)}`);
    return _RELAY_FAILED;
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: programArgs,
      clearEnv: true,
      env: JSON.parse(envJson) as Record<string, string>,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    console.error(`libos relay: cannot run '${program}': ${(error as Error).message}`);
    return _NOT_RUN;
  }
  void _accept(listener, socketPath);
  const status = await child.status;
  if (status.signal === null) return status.code;
  return 128 + (_SIGNALS[status.signal] ?? 0);
}

async function _accept(listener: Deno.TcpListener, socketPath: string): Promise<void> {
  for (;;) {
    let tcp: Deno.TcpConn;
    try {
      tcp = await listener.accept();
    } catch {
      return;
    }
    void _relay(tcp, socketPath);
  }
}

async function _relay(tcp: Deno.TcpConn, socketPath: string): Promise<void> {
  let unix: Deno.UnixConn;
  try {
    unix = await Deno.connect({ transport: "unix", path: socketPath });
  } catch {
    tcp.close();
    return;
  }
  await Promise.all([_pump(tcp, unix), _pump(unix, tcp)]);
  for (const conn of [tcp, unix]) {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/** Copies `from` to `to` until end of stream, then half-closes `to`. */
async function _pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(32 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let at = 0;
      while (at < n) at += await to.write(buffer.subarray(at, n));
    }
    await to.closeWrite();
  } catch {
    // One side went away: closing both (in _relay) ends the other pump.
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  }
}

if (import.meta.main) Deno.exit(await _main(Deno.args));
