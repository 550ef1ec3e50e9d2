/**
 * The resident memory of an isolate host: the process the kernel started and
 * every descendant (bubblewrap's own processes and the `deno` inside), read
 * from Linux `/proc`. Off Linux, or without read access to `/proc`, it reports
 * nothing and only the V8 heap limit bounds a host.
 *
 * @module
 */

const _PAGE = 4096;

/** Resident bytes of `pid` and its descendants, or null when `/proc` cannot tell. */
export function processTreeRss(pid: number): number | null {
  try {
    let total = 0;
    const stack = [pid];
    let seen = 0;
    while (stack.length > 0 && seen < 64) {
      const p = stack.pop()!;
      seen += 1;
      try {
        const statm = Deno.readTextFileSync(`/proc/${p}/statm`);
        total += Number(statm.split(" ")[1] ?? 0) * _PAGE;
        const children = Deno.readTextFileSync(`/proc/${p}/task/${p}/children`).trim();
        if (children !== "") { for (const c of children.split(" ")) stack.push(Number(c)); }
      } catch (error) {
        // A process that exited between two reads has no memory left.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    return total;
  } catch {
    return null;
  }
}
