/**
 * Helper of the RSS benchmark: the kernel as `deno task start` runs it (its
 * V8 flags, the HTTP API, the sandbox), in a fresh process on a fresh data
 * directory; N processes spawned over HTTP, each waiting on a human
 * approval. Prints one JSON line: the kernel's RSS at boot, once every
 * process waits, and after SETTLE seconds more.
 */
import { ASKER_IMAGE } from "./asker_image.ts";
import { startFlags } from "./start_flags.ts";

const [count = "10000", settle = "40"] = Deno.args;
const n = Number(count);
const data = await Deno.makeTempDir({ prefix: "libos-api-rss-" });
const token = "bench-admin-token-of-32-characters!!";
const port = 20_000 + Math.floor(Math.random() * 20_000);
const main = new URL("../main.ts", import.meta.url).pathname;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...startFlags(),
    main,
    "start",
    "--data",
    data,
    "--workspace",
    data,
    "--port",
    String(port),
  ],
  env: { LIBOS_ADMIN_TOKEN: token },
  stdout: "null",
  stderr: "inherit",
}).spawn();
const rssMiB = () =>
  Number(Deno.readTextFileSync(`/proc/${child.pid}/status`).match(/VmRSS:\s+(\d+)/)![1]) / 1024;
const base = `http://127.0.0.1:${port}`;
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}
try {
  for (let i = 0;; i++) {
    try {
      await call("GET", "/v1/health");
      break;
    } catch (error) {
      if (i >= 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const boot = rssMiB();
  await call("POST", "/v1/images", ASKER_IMAGE);
  const pids: string[] = [];
  let next = 0;
  const lanes = Array.from({ length: 8 }, async () => {
    while (next < n) {
      const i = next++;
      const r = await call("POST", "/v1/processes", { image: "asker", goal: `ask ${i}` });
      pids.push((r as { pid: string }).pid);
    }
  });
  await Promise.all(lanes);
  let at = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (at < pids.length) {
      const pid = pids[at++]!;
      const { process } = await call("GET", `/v1/processes/${pid}/wait?until=settled`) as {
        process: { state: string };
      };
      if (process.state !== "waiting") throw new Error(`${pid} is ${process.state}, not waiting`);
    }
  }));
  const waiting = rssMiB();
  await new Promise((resolve) => setTimeout(resolve, Number(settle) * 1000));
  console.log(JSON.stringify({ boot, waiting, settled: rssMiB() }));
} finally {
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(data, { recursive: true });
}
