/**
 * A warm pool of isolate hosts. A host serves one process for its whole life:
 * an idle host bound to a process goes back to that process only, so that no
 * two agents ever share a host (nor any worker, channel or global in it). A
 * host is replaced after a number of calls and after any fault (a host that is
 * no longer ready when it comes back is never reused). Fresh unbound hosts are
 * kept warm so that a new process rarely waits for one to start.
 *
 * @module
 */
import { libosError } from "../runtime/mod.ts";
import type { IsolateHost } from "./isolate_host.ts";

/** Options of {@linkcode HostPool}. */
export interface HostPoolOptions {
  /** Starts one host (not yet bound). */
  start(): Promise<IsolateHost>;
  /** Unbound hosts kept ready. Default 1. */
  warm?: number;
  /** Hosts alive at once, busy or idle. Default 4. */
  maxHosts?: number;
  /** Calls a host serves before it is replaced. Default 500. */
  callsPerHost?: number;
}

/** A host lent to one call; give it back with `release()` (or `using`). */
export interface HostLease extends Disposable {
  readonly host: IsolateHost;
  release(): void;
}

/** Counts, for tests and the console. */
export interface HostPoolStats {
  /** Unbound hosts ready to take. */
  warm: number;
  /** Idle hosts bound to a process. */
  idle: number;
  busy: number;
  starting: number;
  /** Hosts started since the pool was made. */
  started: number;
  /** Hosts ended because they faulted or served their number of calls. */
  retired: number;
}

/** A warm pool of isolate hosts, one process per host. */
export class HostPool implements AsyncDisposable {
  readonly #start: () => Promise<IsolateHost>;
  readonly #warmTarget: number;
  readonly #max: number;
  readonly #callsPerHost: number;
  readonly #warm: IsolateHost[] = [];
  /** Idle hosts by the pid they serve, least recently used first. */
  readonly #idle = new Map<string, IsolateHost[]>();
  readonly #busy = new Set<IsolateHost>();
  readonly #ending = new Set<Promise<void>>();
  readonly #starts = new Set<Promise<unknown>>();
  #waiters: (() => void)[] = [];
  #starting = 0;
  #started = 0;
  #retired = 0;
  #closed = false;

  constructor(options: HostPoolOptions) {
    this.#start = options.start;
    this.#warmTarget = options.warm ?? 1;
    this.#max = options.maxHosts ?? 4;
    this.#callsPerHost = options.callsPerHost ?? 500;
    if (this.#max < 1 || this.#warmTarget < 0) {
      throw new RangeError(
        `Cannot make a host pool of ${this.#max} hosts, ${this.#warmTarget} warm`,
      );
    }
  }

  /** Starts the warm hosts and waits for them. */
  async fill(): Promise<void> {
    this.#refill();
    await Promise.allSettled([...this.#starts]);
  }

  /** Counts of hosts by state. */
  get stats(): HostPoolStats {
    let idle = 0;
    for (const hosts of this.#idle.values()) idle += hosts.length;
    return {
      warm: this.#warm.length,
      idle,
      busy: this.#busy.size,
      starting: this.#starting,
      started: this.#started,
      retired: this.#retired,
    };
  }

  /** Lends a host serving `pid`: its own idle one, a warm one, a new one, or (at the limit) the next free. */
  async acquire(pid: string): Promise<HostLease> {
    for (;;) {
      if (this.#closed) {
        throw libosError("ECANCELED", `Cannot run a tool for ${pid}: the sandbox is closed`);
      }
      const own = this.#takeIdle(pid);
      if (own !== null) return this.#lend(own);
      const warm = this.#takeWarm();
      if (warm !== null) {
        warm.bind(pid);
        return this.#lend(warm);
      }
      if (this.#total() >= this.#max) this.#evictIdle();
      if (this.#total() < this.#max) {
        const host = await this.#startOne();
        if (this.#closed) {
          host.kill();
          continue;
        }
        host.bind(pid);
        return this.#lend(host);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Ends the idle hosts of a process (it exited, or was killed). */
  async releasePid(pid: string): Promise<void> {
    const hosts = this.#idle.get(pid) ?? [];
    this.#idle.delete(pid);
    for (const host of hosts) this.#end(host, false);
    await Promise.allSettled([...this.#ending]);
    this.#wake();
  }

  /** Kills every host and waits until all are gone. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    this.#wake();
    await Promise.allSettled([...this.#starts]);
    for (const host of this.#warm.splice(0)) this.#end(host, false);
    for (const hosts of this.#idle.values()) for (const host of hosts) this.#end(host, false);
    this.#idle.clear();
    for (const host of this.#busy) this.#end(host, false);
    this.#busy.clear();
    await Promise.allSettled([...this.#ending]);
  }

  #total(): number {
    let idle = 0;
    for (const hosts of this.#idle.values()) idle += hosts.length;
    return this.#warm.length + idle + this.#busy.size + this.#starting;
  }

  #takeIdle(pid: string): IsolateHost | null {
    const hosts = this.#idle.get(pid);
    while (hosts !== undefined && hosts.length > 0) {
      const host = hosts.pop()!;
      if (hosts.length === 0) this.#idle.delete(pid);
      if (host.state === "ready") return host;
      this.#end(host, true);
    }
    return null;
  }

  #takeWarm(): IsolateHost | null {
    while (this.#warm.length > 0) {
      const host = this.#warm.shift()!;
      if (host.state === "ready") return host;
      this.#end(host, true);
    }
    return null;
  }

  /** Ends the least recently used idle host of any process, to make room. */
  #evictIdle(): void {
    let oldest: [string, IsolateHost[]] | null = null;
    for (const entry of this.#idle) {
      oldest = entry;
      break;
    }
    if (oldest === null) return;
    const [pid, hosts] = oldest;
    const host = hosts.shift()!;
    if (hosts.length === 0) this.#idle.delete(pid);
    this.#end(host, false);
  }

  #lend(host: IsolateHost): HostLease {
    this.#busy.add(host);
    this.#refill();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#return(host);
    };
    return { host, release, [Symbol.dispose]: release };
  }

  #return(host: IsolateHost): void {
    this.#busy.delete(host);
    if (this.#closed) {
      this.#end(host, false);
    } else if (host.state !== "ready" || host.served >= this.#callsPerHost) {
      this.#end(host, true);
    } else {
      const pid = host.pid!;
      const hosts = this.#idle.get(pid) ?? [];
      this.#idle.delete(pid); // re-insert: the Map's order is least recently used first
      hosts.push(host);
      this.#idle.set(pid, hosts);
    }
    this.#refill();
    this.#wake();
  }

  #end(host: IsolateHost, retired: boolean): void {
    if (retired) this.#retired += 1;
    host.kill();
    const ending = host.exited.finally(() => this.#ending.delete(ending));
    this.#ending.add(ending);
  }

  #startOne(): Promise<IsolateHost> {
    this.#starting += 1;
    const start = this.#start().finally(() => {
      this.#starting -= 1;
      this.#starts.delete(start);
      this.#wake();
    });
    this.#starts.add(start);
    return start.then((host) => {
      this.#started += 1;
      return host;
    });
  }

  /** Starts warm hosts up to the target, within the limit. */
  #refill(): void {
    while (
      !this.#closed && this.#warm.length + this.#starting < this.#warmTarget &&
      this.#total() < this.#max
    ) {
      this.#startOne().then(
        (host) => {
          if (this.#closed) this.#end(host, false);
          else {
            this.#warm.push(host);
            this.#wake();
          }
        },
        () => {
          // A warm start that failed is retried by the next acquire, which reports its error.
        },
      );
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
