/**
 * The live crash campaign: a real kernel (`deno task start`) runs in its own
 * process group and is driven only through its HTTP API — agents spawned with
 * `POST /v1/processes`, questions and approvals answered with
 * `POST /v1/human/{id}`, results read from the journal, human-queue,
 * capability and audit routes. The harness kills the whole group with SIGKILL
 * at random moments, each one checked to land while agents are mid-work,
 * reboots the kernel, and at the end checks what an uninterrupted run
 * promises: every agent exited with its result; every file holds its content
 * and was written once (a file seen complete never changes inode or mtime
 * again); no fork, spawn, question or approval happened twice; the one-time
 * grant was spent once; journals are gap-free with one model response per
 * turn; the audit chain verifies.
 *
 * @module
 */
import { join } from "node:path";
import type { AgentImageInput, GrantSpec } from "../../mod.ts";
import { rng } from "./rng.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOKEN = "live-crash-admin-token-0123456789";
const CHILD_IMAGE = "live-child";
const SLEEPER_IMAGE = "live-sleeper";
const TERMINAL = new Set(["exited", "failed", "killed"]);

/** Options of {@linkcode runLiveCampaign}. */
export interface LiveCampaignOptions {
  /** Scripted agents run at once. */
  agents: number;
  /** Rounds each agent runs (a file, an object version and a sleep per round). */
  rounds: number;
  /** SIGKILLs to land on live work before the last boot runs the work to its end. */
  kills: number;
  /** Seed of the kill times and of the agents' sleeps. */
  seed: number;
  /** A kill comes this long after the kernel answers `/v1/health`, in [min, max] ms. Default 200–2000. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Each round's sleep, in [min, max] ms. Default 40–150. */
  minSleepMs?: number;
  maxSleepMs?: number;
  /** How long a boot may take to answer `/v1/health`. Default 60 s. */
  bootTimeoutMs?: number;
  /** How long the last boot may take to run the work to its end. Default 600 s. */
  finishTimeoutMs?: number;
  /**
   * Run the kernel from a copy of its source tree made at the start (in
   * `dir/kernel`), so that every boot runs the same code even while the tree
   * is being edited. Default true; false runs it from the tree itself.
   */
  snapshot?: boolean;
  /** Called with a line per boot and phase. */
  log?: (line: string) => void;
}

/** What a campaign did and found. */
export interface LiveCampaignResult {
  seed: number;
  /** SIGKILLs sent, and how many of them landed on live work (an agent not terminal before and after). */
  kills: number;
  landed: number;
  boots: number;
  /** Files the agents wrote, and how many were seen complete after a kill (stamped, then checked). */
  files: number;
  stamped: number;
  /** Children made by fork, by spawn (short children and killed sleepers). */
  forks: number;
  spawns: number;
  /** Human requests (questions and approvals) raised. */
  requests: number;
  /** Writes found in flight after a crash, by how the kernel settled them (from the audit log). */
  settled: Record<string, number>;
  ms: number;
  /** Every violation found, `<agent or scope>: <detail>`; empty when every check passed. */
  problems: string[];
}

/** What one agent's script does, counted as it is written. */
export interface AgentPlan {
  agent: string;
  image: AgentImageInput;
  grants: GrantSpec[];
  /** Model turns (scripted steps) to the exit. */
  turns: number;
  /** Workspace path → the content it must end with. */
  files: Map<string, string>;
  forks: number;
  spawns: number;
  sleepers: number;
  questions: string[];
  /** Paths written under the `ask` grant, one approval each. */
  approvals: string[];
  result: unknown;
}

/** `count` rounds of `rounds`, evenly spaced from `phase` (0 to 1). */
function _spread(rounds: number, count: number, phase: number): Set<number> {
  const out = new Set<number>();
  for (let j = 0; j < count; j++) {
    out.add(Math.min(rounds, Math.max(1, Math.round((j + phase) * rounds / count))));
  }
  return out;
}

type _Step = { tool: string; args: Record<string, unknown> } | {
  calls: { tool: string; args: Record<string, unknown> }[];
};

/**
 * The script of agent `agent` (its files live in `out/<agent>/`): per round a
 * file, a counter version and a sleep; spread over the rounds forks, spawned
 * children, killed sleepers, questions and approved writes; once, a write
 * under a one-use grant and a second one that must be refused.
 */
export function planAgent(
  agent: string,
  options: { rounds: number; seed: number; minSleepMs?: number; maxSleepMs?: number },
): AgentPlan {
  const { rounds, seed } = options;
  const minSleep = options.minSleepMs ?? 40;
  const maxSleep = options.maxSleepMs ?? 150;
  const rand = rng(seed ^ _hash(agent));
  const dir = `out/${agent}`;
  const at = {
    fork: _spread(rounds, Math.max(1, Math.floor(rounds / 25)), 0.5),
    spawn: _spread(rounds, Math.max(1, Math.floor(rounds / 30)), 0.3),
    sleeper: _spread(rounds, Math.max(1, Math.floor(rounds / 50)), 0.7),
    ask: _spread(rounds, Math.max(1, Math.floor(rounds / 20)), 0.2),
    approve: _spread(rounds, Math.max(1, Math.floor(rounds / 40)), 0.6),
  };
  const once = Math.floor(rounds / 2) + 1;
  const plan: Omit<AgentPlan, "image" | "grants" | "turns" | "result"> = {
    agent,
    files: new Map(),
    forks: 0,
    spawns: 0,
    sleepers: 0,
    questions: [],
    approvals: [],
  };
  const steps: _Step[] = [
    { tool: "create_object", args: { name: "counter", type: "json", payload: { n: 0 } } },
  ];
  const pidOf = (turn: number) => ({ $ref: `steps[${turn}].result.value.pid` });
  for (let r = 1; r <= rounds; r++) {
    const text = `${agent} round ${r} seed ${seed}\n`;
    plan.files.set(`${dir}/r${r}.txt`, text);
    steps.push({
      calls: [
        { tool: "write_text_file", args: { path: `r${r}.txt`, text } },
        { tool: "write_object", args: { ref: "counter", payload: { n: r } } },
        { tool: "sleep", args: { ms: minSleep + Math.floor(rand() * (maxSleep - minSleep + 1)) } },
      ],
    });
    if (at.fork.has(r)) {
      const t = steps.length;
      steps.push({ tool: "fork_process", args: { goal: `${agent}: fork at round ${r}` } });
      steps.push({ tool: "wait_process", args: { pid: pidOf(t) } });
      plan.forks++;
    }
    if (at.spawn.has(r)) {
      const t = steps.length;
      steps.push({
        tool: "spawn_process",
        args: { image: CHILD_IMAGE, goal: `${agent}: child at round ${r}` },
      });
      steps.push({ tool: "wait_process", args: { pid: pidOf(t) } });
      plan.spawns++;
    }
    if (at.sleeper.has(r)) {
      const t = steps.length;
      steps.push({
        tool: "spawn_process",
        args: { image: SLEEPER_IMAGE, goal: `${agent}: sleeper at round ${r}` },
      });
      steps.push({ tool: "signal_process", args: { pid: pidOf(t), signal: "kill" } });
      steps.push({ tool: "wait_process", args: { pid: pidOf(t) } });
      plan.sleepers++;
    }
    if (at.ask.has(r)) {
      const question = `${agent}: may round ${r} go on?`;
      steps.push({ tool: "ask_human", args: { question } });
      plan.questions.push(question);
    }
    if (at.approve.has(r)) {
      const path = `approved-r${r}.txt`;
      const approved = `${agent} approved at round ${r} seed ${seed}\n`;
      steps.push({ tool: "write_text_file", args: { path, text: approved } });
      plan.files.set(`${dir}/${path}`, approved);
      plan.approvals.push(`${dir}/${path}`);
    }
    if (r === once) {
      const first = `${agent} first seed ${seed}\n`;
      steps.push({ tool: "write_text_file", args: { path: "once.txt", text: first } });
      steps.push({
        tool: "write_text_file",
        args: { path: "once.txt", text: `${agent} second\n` },
      });
      plan.files.set(`${dir}/once.txt`, first);
    }
  }
  const result = { agent, rounds, seed };
  steps.push({ tool: "exit", args: { result } });
  const image: AgentImageInput = {
    id: `live-${agent}`,
    name: `live crash agent ${agent}`,
    version: "1",
    model: {
      provider: "scripted",
      steps,
      forked: [{ tool: "exit", args: { result: { forked: true } } }],
    },
    tools: [
      "write_text_file",
      "create_object",
      "write_object",
      "sleep",
      "fork_process",
      "spawn_process",
      "wait_process",
      "signal_process",
      "ask_human",
      "exit",
    ],
  };
  const grants: GrantSpec[] = [
    { resource: `fs:${dir}/r*.txt`, rights: ["write"] },
    { resource: `fs:${dir}/approved-*.txt`, rights: ["write"], effect: "ask" },
    { resource: `fs:${dir}/once.txt`, rights: ["write"], uses: 1 },
    { resource: "proc", rights: ["spawn", "fork", "signal"] },
    { resource: "human:operator", rights: ["ask"] },
  ];
  return { ...plan, image, grants, turns: steps.length, result };
}

function _hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The registered images the agents spawn: a short child and a sleeper to kill. */
const CHILD_IMAGES: AgentImageInput[] = [
  {
    id: CHILD_IMAGE,
    name: "live crash child",
    version: "1",
    model: {
      provider: "scripted",
      steps: [
        { tool: "sleep", args: { ms: 30 } },
        { tool: "exit", args: { result: { child: true } } },
      ],
    },
    tools: ["sleep", "exit"],
  },
  {
    id: SLEEPER_IMAGE,
    name: "live crash sleeper",
    version: "1",
    model: {
      provider: "scripted",
      steps: [
        { tool: "sleep", args: { ms: 600_000 } },
        { tool: "exit", args: { result: { sleeper: "woke" } } },
      ],
    },
    tools: ["sleep", "exit"],
  },
];

// ----------------------------------------------------------- wire shapes

/** The fields of the API's records this harness reads. */
interface _Process {
  pid: string;
  parentPid: string | null;
  imageId: string;
  forkedFrom: string | null;
  state: string;
  result: unknown;
  reason: string | null;
}

interface _Entry {
  pid: string;
  seq: number;
  kind: string;
  turn: number | null;
  callId: string | null;
  sys: number | null;
  data: Record<string, unknown>;
}

interface _Human {
  id: string;
  pid: string;
  kind: string;
  state: string;
  preview: string;
  previewSha256: string;
  callId: string | null;
  sys: number | null;
  answer: string | null;
  consumed: boolean;
}

interface _Grant {
  id: string;
  resource: string;
  uses: number | null;
}

interface _Audit {
  seq: number;
  decision: string | null;
  capabilityId: string | null;
  resource: string | null;
  detail: Record<string, unknown>;
}

type _Result = { ok: true; value: unknown } | {
  ok: false;
  error: { code: string; message: string };
};

class _HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The control plane of one boot, over HTTP to 127.0.0.1 only. */
class _Api {
  constructor(readonly base: string, readonly client: Deno.HttpClient) {}

  async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    // A timer, not AbortSignal.timeout: that one would keep the process alive after the test.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 30_000);
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        client: this.client,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: abort.signal,
      });
      const text = await res.text();
      if (!res.ok) throw new _HttpError(res.status, `${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }
}

// --------------------------------------------------------- kernel process

/** One boot of `deno task start`, in its own process group (it leads it). */
class _Kernel {
  readonly #child: Deno.ChildProcess;
  readonly #tail: string[] = [];
  readonly #pumps: Promise<void>[];
  readonly #readers: ReadableStreamDefaultReader<string>[] = [];
  #url = Promise.withResolvers<string>();
  #ended = false;

  private constructor(source: string, data: string, workspace: string) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["task", "start", "--data", data, "--workspace", workspace, "--port", "0"],
      cwd: source,
      env: { LIBOS_ADMIN_TOKEN: TOKEN, NO_COLOR: "1" },
      detached: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pumps = [this.#pump(this.#child.stdout), this.#pump(this.#child.stderr)];
    void this.#child.status.then((s) => {
      this.#ended = true;
      this.#url.reject(new Error(`the kernel exited (${s.code}) before it served the API`));
    });
    this.#url.promise.catch(() => {});
  }

  /** Starts a kernel and waits until `/v1/health` answers ok. */
  static async start(
    dirs: { source: string; data: string; workspace: string },
    client: Deno.HttpClient,
    timeoutMs: number,
  ): Promise<{ kernel: _Kernel; api: _Api }> {
    const kernel = new _Kernel(dirs.source, dirs.data, dirs.workspace);
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the kernel did not serve the API within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      const url = await Promise.race([kernel.#url.promise, timedOut]);
      const api = new _Api(url, client);
      for (let i = 0;; i++) {
        if (Date.now() > deadline) {
          throw new Error(`/v1/health did not answer ok within ${timeoutMs} ms`);
        }
        const ok = await api.get<{ ok: boolean }>("/v1/health").then((h) => h.ok, () => false);
        if (ok) break;
        await _sleep(Math.min(50 * (i + 1), 500));
      }
      return { kernel, api };
    } catch (error) {
      await kernel.kill();
      throw new Error(`${(error as Error).message}\n${kernel.tail()}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** The last lines the kernel printed. */
  tail(): string {
    return this.#tail.slice(-30).join("\n");
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    this.#readers.push(reader);
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.#tail.push(line);
          if (this.#tail.length > 200) this.#tail.splice(0, 100);
          const m = /libos: API on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
          if (m !== null) this.#url.resolve(m[1]!);
        }
      }
    } catch {
      // Cancelled after the group was killed.
    }
  }

  /**
   * SIGKILLs the whole group and waits until every process of it, and every
   * descendant seen just before, is gone. Answers the pids that outlived it.
   */
  async kill(): Promise<number[]> {
    const pgid = this.#child.pid;
    const before = this.#ended ? [] : _descendants(pgid);
    try {
      Deno.kill(-pgid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
    return await this.#reap(pgid, before);
  }

  /** SIGTERM to the group (a clean shutdown), SIGKILL if it is not gone in `graceMs`. */
  async stop(graceMs: number): Promise<number[]> {
    const pgid = this.#child.pid;
    const before = this.#ended ? [] : _descendants(pgid);
    try {
      Deno.kill(-pgid, "SIGTERM");
    } catch {
      // The group is gone already.
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && _alive([pgid, ...before]).length > 0) await _sleep(50);
    if (_alive([pgid, ...before]).length === 0 && this.#ended) return await this.#reap(pgid, []);
    return await this.kill();
  }

  async #reap(pgid: number, before: number[]): Promise<number[]> {
    await _within(this.#child.status, 10_000);
    let left: number[] = [];
    for (let i = 0; i < 100; i++) {
      left = _alive(before).concat(_groupMembers(pgid));
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
      await _sleep(50);
    }
    // Survivors may hold the pipes open: stop reading them.
    await _within(Promise.all(this.#pumps), 2_000);
    for (const r of this.#readers) await r.cancel().catch(() => {});
    await Promise.all(this.#pumps);
    return left;
  }
}

/** One process as `ps` lists it. */
interface _Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
}

/**
 * Every process on the machine, from one `ps` run (reading `/proc` directly
 * needs every permission; running `ps` needs only --allow-run).
 */
function _snapshot(): _Proc[] {
  const out = new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid=,pgid=,stat="],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const rows: _Proc[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [pid, ppid, pgrp, state] = line.trim().split(/\s+/);
    if (pid === undefined || state === undefined) continue;
    rows.push({ pid: Number(pid), ppid: Number(ppid), pgrp: Number(pgrp), state: state[0]! });
  }
  return rows;
}

/** Every descendant of `root` (not `root` itself). */
function _descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of _snapshot()) children.set(p.ppid, [...children.get(p.ppid) ?? [], p.pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Of `pids`, those that still run (a zombie has ended). */
function _alive(pids: number[]): number[] {
  const running = new Set(
    _snapshot().filter((p) => p.state !== "Z" && p.state !== "X").map((p) => p.pid),
  );
  return pids.filter((pid) => running.has(pid));
}

function _groupMembers(pgid: number): number[] {
  return _snapshot().filter((p) => p.pgrp === pgid && p.state !== "Z" && p.state !== "X").map((
    p,
  ) => p.pid);
}

function _sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise`, at most `ms` (the timer is cleared either way). */
async function _within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------- campaign

interface _Agent {
  plan: AgentPlan;
  pid: string | null;
  /** The journal as read so far (committed entries only: the API reads the store). */
  journal: _Entry[];
  /** Journal seq → the boot during which it was first read. */
  readAt: Map<number, number>;
}

interface _Stamp {
  ino: number | null;
  mtimeMs: number;
  size: number;
  /** When it was first stamped, and whether the journal had its write complete by then. */
  kill: number;
  completed: string | null;
  reported: boolean;
}

/** The campaign's state across boots. */
class _Campaign {
  readonly problems: string[] = [];
  readonly agents: _Agent[];
  readonly byPid = new Map<string, _Agent>();
  /** Workspace path → the call whose write completed, per the journals read. */
  readonly completed = new Map<string, string>();
  readonly stamps = new Map<string, _Stamp>();
  /** The boot running now (1 is the first). */
  boot = 0;

  constructor(readonly workspace: string, readonly options: LiveCampaignOptions) {
    this.agents = Array.from({ length: options.agents }, (_, i) => ({
      plan: planAgent(`a${i + 1}`, options),
      pid: null,
      journal: [],
      readAt: new Map(),
    }));
  }

  problem(scope: string, detail: string): void {
    this.problems.push(`${scope}: ${detail}`);
  }

  /** Registers the child images and spawns the agents not spawned yet. */
  async setup(api: _Api): Promise<void> {
    const images = await api.get<{ images: { id: string }[] }>("/v1/images");
    for (const image of CHILD_IMAGES) {
      if (!images.images.some((i) => i.id === image.id)) {
        await api.call("POST", "/v1/images", image);
      }
    }
    await this.findAgents(api);
    for (const a of this.agents) {
      if (a.pid !== null) continue;
      const { pid } = await api.call<{ pid: string }>("POST", "/v1/processes", {
        image: a.plan.image,
        goal: `live crash agent ${a.plan.agent}`,
        cwd: `out/${a.plan.agent}`,
        capabilities: a.plan.grants,
      });
      a.pid = pid;
      this.byPid.set(pid, a);
    }
  }

  async findAgents(api: _Api): Promise<_Process[]> {
    const { processes } = await api.get<{ processes: _Process[] }>("/v1/processes");
    for (const a of this.agents) {
      if (a.pid !== null) continue;
      const p = processes.find((q) => q.parentPid === null && q.imageId === a.plan.image.id);
      if (p !== undefined) {
        a.pid = p.pid;
        this.byPid.set(p.pid, a);
      }
    }
    return processes;
  }

  /** Agents not yet terminal (all of them before the setup spawned them). */
  async liveAgents(api: _Api): Promise<string[]> {
    const processes = await this.findAgents(api);
    return this.agents.filter((a) => {
      const p = processes.find((q) => q.pid === a.pid);
      return p === undefined || !TERMINAL.has(p.state);
    }).map((a) => a.plan.agent);
  }

  /** Answers every pending question (`answer to <question>`) and approves every approval. */
  async answer(api: _Api): Promise<void> {
    const { requests } = await api.get<{ requests: _Human[] }>("/v1/human?state=pending");
    for (const r of requests) {
      const agent = this.byPid.get(r.pid)?.plan.agent ?? r.pid;
      const body = r.kind === "question"
        ? { decision: "answer", answer: `answer to ${r.preview}`, previewSha256: r.previewSha256 }
        : r.kind === "approval"
        ? { decision: "approve", previewSha256: r.previewSha256 }
        : null;
      if (body === null) {
        this.problem(agent, `unexpected ${r.kind} request ${r.id}: ${r.preview}`);
        await api.call("POST", `/v1/human/${r.id}`, {
          decision: "deny",
          previewSha256: r.previewSha256,
        }).catch(() => {});
        continue;
      }
      try {
        await api.call("POST", `/v1/human/${r.id}`, body);
      } catch (error) {
        // A second decision (409) means an earlier one stands; anything else is a fault.
        if (!(error instanceof _HttpError && error.status === 409)) {
          this.problem(agent, `deciding ${r.id} failed: ${(error as Error).message}`);
        }
      }
    }
  }

  /** Reads the agents' journals on from where the last read stopped. */
  async readJournals(api: _Api): Promise<void> {
    await Promise.all(this.agents.map(async (a) => {
      if (a.pid === null) return;
      const fresh = await _readJournal(api, a.pid, a.journal.at(-1)?.seq ?? 0);
      a.journal.push(...fresh);
      for (const e of fresh) {
        a.readAt.set(e.seq, this.boot);
        if (e.kind !== "tool.end" || e.data["name"] !== "write_text_file") continue;
        const result = e.data["result"] as _Result;
        if (!result.ok) continue;
        const path = (result.value as { path?: unknown }).path;
        if (typeof path === "string" && !this.completed.has(path)) {
          this.completed.set(path, `${a.plan.agent} ${e.callId}`);
        }
      }
    }));
  }

  /** Keeps the agents going (answers, journal reads) until `untilMs` (performance.now()). */
  async tend(api: _Api, untilMs: number): Promise<void> {
    for (let i = 0; i < 100_000 && performance.now() < untilMs; i++) {
      await this.answer(api);
      await this.readJournals(api);
      await _sleep(Math.max(0, Math.min(150, untilMs - performance.now())));
    }
  }

  /**
   * Stamps (inode, mtime, size) every file that holds its final content, and
   * checks every file stamped before: a write that completed is never redone.
   */
  async stampFiles(kill: number, label: string, options: { stampNew: boolean }): Promise<void> {
    const expected = new Map<string, string>();
    for (const a of this.agents) for (const [p, text] of a.plan.files) expected.set(p, text);
    for (const path of await _walk(this.workspace, "out")) {
      const st = await Deno.lstat(join(this.workspace, path));
      const old = this.stamps.get(path);
      if (old === undefined) {
        if (!options.stampNew) continue;
        const text = await Deno.readTextFile(join(this.workspace, path)).catch(() => null);
        if (text !== expected.get(path)) continue;
        this.stamps.set(path, {
          ino: st.ino,
          mtimeMs: st.mtime?.getTime() ?? 0,
          size: st.size,
          kill,
          completed: this.completed.get(path) ?? null,
          reported: false,
        });
      } else if (
        !old.reported &&
        (st.ino !== old.ino || (st.mtime?.getTime() ?? 0) !== old.mtimeMs || st.size !== old.size)
      ) {
        old.reported = true;
        this.problem(
          path.split("/")[1] ?? path,
          `${path} was written again ${label}: complete at kill ${old.kill} (${
            old.completed === null
              ? "its write not yet in the journal read then"
              : `write ${old.completed} completed in the journal`
          }), inode ${old.ino} → ${st.ino}, mtime ${old.mtimeMs} → ${
            st.mtime?.getTime() ?? 0
          }, size ${old.size} → ${st.size}`,
        );
      }
    }
    for (const [path, old] of this.stamps) {
      if (old.reported) continue;
      const st = await Deno.lstat(join(this.workspace, path)).catch(() => null);
      if (st === null) {
        old.reported = true;
        this.problem(
          path.split("/")[1] ?? path,
          `${path}, complete at kill ${old.kill}, is gone ${label}`,
        );
      }
    }
  }
}

async function _readJournal(api: _Api, pid: string, after: number): Promise<_Entry[]> {
  const out: _Entry[] = [];
  let cursor = after;
  for (let page = 0; page < 10_000; page++) {
    const { entries } = await api.get<{ entries: _Entry[] }>(
      `/v1/processes/${pid}/journal?after=${cursor}&limit=1000`,
    );
    out.push(...entries);
    if (entries.length < 1000) break;
    cursor = entries.at(-1)!.seq;
  }
  return out;
}

async function _readAudit(api: _Api, pid: string, action: string): Promise<_Audit[]> {
  const out: _Audit[] = [];
  let cursor = 0;
  for (let page = 0; page < 10_000; page++) {
    const { records } = await api.get<{ records: _Audit[] }>(
      `/v1/audit?pid=${pid}&action=${action}&after=${cursor}&limit=1000`,
    );
    out.push(...records);
    if (records.length < 1000) break;
    cursor = records.at(-1)!.seq;
  }
  return out;
}

/** Copies the source tree `from` into `to`, without `.git`, `node_modules` and `.libos`. */
async function _copyTree(from: string, to: string): Promise<void> {
  const skip = new Set([".git", "node_modules", ".libos"]);
  const stack = [""];
  while (stack.length > 0) {
    const d = stack.pop()!;
    await Deno.mkdir(join(to, d), { recursive: true });
    for await (const e of Deno.readDir(join(from, d))) {
      if (skip.has(e.name)) continue;
      const p = join(d, e.name);
      if (e.isDirectory) stack.push(p);
      else if (e.isFile) await Deno.copyFile(join(from, p), join(to, p));
    }
  }
}

/** Workspace-relative paths of every file under `dir`. */
async function _walk(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(root, d)));
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) stack.push(p);
      else out.push(p);
    }
  }
  return out.sort();
}

/**
 * Runs the campaign in `dir` (data directory `dir/data`, workspace `dir/ws`):
 * boots, kills on live work `options.kills` times, lets the last boot finish,
 * then checks. Every kernel it starts is ended before it returns.
 */
export async function runLiveCampaign(
  dir: string,
  options: LiveCampaignOptions,
): Promise<LiveCampaignResult> {
  const t0 = performance.now();
  const data = join(dir, "data");
  const workspace = join(dir, "ws");
  await Deno.mkdir(data, { recursive: true });
  await Deno.mkdir(workspace, { recursive: true });
  const source = options.snapshot === false ? ROOT : join(dir, "kernel");
  if (source !== ROOT) await _copyTree(ROOT, source);
  const log = options.log ?? (() => {});
  const rand = rng(options.seed);
  const minDelay = options.minDelayMs ?? 200;
  const maxDelay = options.maxDelayMs ?? 2000;
  const bootTimeout = options.bootTimeoutMs ?? 60_000;
  const c = new _Campaign(workspace, options);
  const client = Deno.createHttpClient({});
  let kernel: _Kernel | null = null;
  let kills = 0;
  let landed = 0;
  let boots = 0;
  /** The kill whose landing the next boot confirms. */
  let unconfirmed: number | null = null;
  const boot = async (): Promise<_Api> => {
    const t = performance.now();
    const started = await _Kernel.start({ source, data, workspace }, client, bootTimeout);
    kernel = started.kernel;
    boots++;
    c.boot = boots;
    log(`boot ${boots}: up in ${Math.round(performance.now() - t)} ms`);
    if (unconfirmed !== null) {
      // A kill landed on live work when an agent was live before it (checked
      // then) and is still not terminal in what the crash left durable.
      const live = await c.liveAgents(started.api);
      if (live.length > 0) landed++;
      else c.problem("campaign", `kill ${unconfirmed}: no agent was live after the reboot`);
      unconfirmed = null;
    }
    return started.api;
  };
  const end = async (how: "kill" | "stop"): Promise<void> => {
    const k = kernel as _Kernel | null;
    kernel = null;
    if (k === null) return;
    const left = how === "kill" ? await k.kill() : await k.stop(15_000);
    if (left.length > 0) {
      c.problem("campaign", `processes ${left.join(", ")} outlived the kernel's group (${how})`);
    }
  };
  try {
    for (let attempt = 0; kills < options.kills && attempt < options.kills * 2; attempt++) {
      const api = await boot();
      if (boots === 1) await c.setup(api);
      const delay = minDelay + Math.floor(rand() * (maxDelay - minDelay + 1));
      await c.tend(api, performance.now() + delay);
      const live = await c.liveAgents(api);
      if (live.length === 0) {
        c.problem(
          "campaign",
          `the work finished after ${kills} of ${options.kills} kills (more rounds are needed)`,
        );
        await end("stop");
        break;
      }
      await end("kill");
      kills++;
      unconfirmed = kills;
      await c.stampFiles(kills, `after kill ${kills}`, { stampNew: true });
      log(`boot ${boots}: killed after ${delay} ms with ${live.length} agents live`);
    }
    // The last boot runs the work to its end.
    const api = await boot();
    const deadline = performance.now() + (options.finishTimeoutMs ?? 600_000);
    let processes: _Process[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      processes = await c.findAgents(api);
      if (processes.every((p) => TERMINAL.has(p.state)) && c.agents.every((a) => a.pid !== null)) {
        break;
      }
      if (performance.now() > deadline) {
        const open = processes.filter((p) => !TERMINAL.has(p.state))
          .map((p) => `${p.pid} ${p.state}`);
        c.problem(
          "campaign",
          `the work did not finish within ${options.finishTimeoutMs ?? 600_000} ms: ${
            open.join(", ")
          }`,
        );
        break;
      }
      await c.tend(api, performance.now() + 250);
    }
    log(`boot ${boots}: the work ended; checking`);
    await c.readJournals(api);
    const figures = await _check(c, api, processes);
    await end("stop");
    await c.stampFiles(kills, "after the last boot", { stampNew: false });
    await _checkFiles(c);
    const files = c.agents.reduce((n, a) => n + a.plan.files.size, 0);
    return {
      seed: options.seed,
      kills,
      landed,
      boots,
      files,
      stamped: c.stamps.size,
      ...figures,
      ms: Math.round(performance.now() - t0),
      problems: c.problems,
    };
  } catch (error) {
    const k = kernel as _Kernel | null;
    throw new Error(
      `live campaign (seed ${options.seed}) stopped at boot ${boots}: ${
        error instanceof Error ? error.stack : String(error)
      }${k === null ? "" : `\nkernel output:\n${k.tail()}`}`,
    );
  } finally {
    await end("kill");
    client.close();
  }
}

/** Every check on the finished work, over the API; answers the figures. */
async function _check(
  c: _Campaign,
  api: _Api,
  processes: _Process[],
): Promise<Pick<LiveCampaignResult, "forks" | "spawns" | "requests" | "settled">> {
  const figures = { forks: 0, spawns: 0, requests: 0, settled: {} as Record<string, number> };
  const verify = await api.get<{ ok: boolean; reason?: string; seq?: number }>(
    "/v1/audit/verify",
  );
  if (!verify.ok) {
    c.problem("audit", `the chain does not verify at ${verify.seq}: ${verify.reason}`);
  }
  const { requests } = await api.get<{ requests: _Human[] }>("/v1/human");
  figures.requests = requests.length;
  for (const a of c.agents) {
    const say = (detail: string) => c.problem(a.plan.agent, detail);
    if (a.pid === null) {
      say("was never spawned");
      continue;
    }
    const p = processes.find((q) => q.pid === a.pid);
    if (p?.state !== "exited") say(`ended ${p?.state} (${p?.reason})`);
    if (JSON.stringify(p?.result) !== JSON.stringify(a.plan.result)) {
      say(`result ${JSON.stringify(p?.result)}, expected ${JSON.stringify(a.plan.result)}`);
    }
    // What the journal read during the campaign showed must still be there, unchanged.
    const full = await _readJournal(api, a.pid, 0);
    for (const seen of a.journal) {
      const now = full[seen.seq - 1];
      if (JSON.stringify(now) !== JSON.stringify(seen)) {
        say(
          `journal entry ${seen.seq} (${seen.kind}) read before a kill is not what the store holds now`,
        );
        break;
      }
    }
    _checkJournal(say, a.plan, full);
    const children = processes.filter((q) => q.parentPid === a.pid);
    _checkChildren(say, a, full, { children, all: processes });
    figures.forks += children.filter((q) => q.forkedFrom === a.pid).length;
    figures.spawns += children.filter((q) => q.forkedFrom === null).length;
    _checkRequests(say, a.plan, requests.filter((r) => r.pid === a.pid));
    const audit = await _readAudit(api, a.pid, "fs.write");
    for (const r of audit) {
      const how = r.detail["settled"];
      if (typeof how === "string") figures.settled[how] = (figures.settled[how] ?? 0) + 1;
    }
    const { capabilities } = await api.get<{ capabilities: _Grant[] }>(
      `/v1/processes/${a.pid}/capabilities`,
    );
    const once = capabilities.find((g) => g.resource === `fs:out/${a.plan.agent}/once.txt`);
    if (once === undefined) say("holds no once.txt grant");
    else {
      if (once.uses !== 0) say(`the one-time grant ${once.id} has ${once.uses} uses left`);
      const spent = audit.filter((r) => r.capabilityId === once.id && r.decision === "allow");
      if (spent.length !== 1) {
        say(
          `the one-time grant ${once.id} allowed ${spent.length} writes (audit seq ${
            spent.map((r) => r.seq).join(", ")
          })`,
        );
      }
    }
    const { objects } = await api.get<
      { objects: { name: string; version: number; payload: unknown }[] }
    >(
      `/v1/processes/${a.pid}/objects`,
    );
    const counter = objects.find((o) => o.name === "counter");
    const rounds = c.options.rounds;
    if (counter?.version !== rounds + 1 || JSON.stringify(counter.payload) !== `{"n":${rounds}}`) {
      say(
        `counter is version ${counter?.version} ${
          JSON.stringify(counter?.payload)
        }, expected version ${
          rounds + 1
        } {"n":${rounds}} (an object write happened twice or was lost)`,
      );
    }
  }
  const agents = new Set(c.agents.map((a) => a.pid));
  for (const q of processes) {
    if (q.parentPid === null && !agents.has(q.pid)) c.problem(q.pid, "an extra top-level process");
  }
  return figures;
}

/** Gap-free, one model response per turn, every call ended once, the expected results. */
function _checkJournal(say: (d: string) => void, plan: AgentPlan, journal: _Entry[]): void {
  for (let i = 0; i < journal.length; i++) {
    if (journal[i]!.seq !== i + 1) {
      say(`journal has seq ${journal[i]!.seq} at position ${i + 1} (a gap or a repeat)`);
      break;
    }
  }
  const responses = journal.filter((e) => e.kind === "model.response");
  const turns = responses.map((e) => e.turn);
  const expected = Array.from({ length: plan.turns }, (_, i) => i);
  if (JSON.stringify(turns) !== JSON.stringify(expected)) {
    const dup = turns.filter((t, i) => turns.indexOf(t) !== i);
    say(
      `${responses.length} model responses for ${plan.turns} turns${
        dup.length > 0 ? ` (turns ${[...new Set(dup)].join(", ")} answered twice)` : ""
      }`,
    );
  }
  const calls = new Map<string, { name: string; args: Record<string, unknown> }>();
  for (const e of responses) {
    for (
      const call of e.data["calls"] as { id: string; name: string; args: Record<string, unknown> }[]
    ) {
      calls.set(call.id, call);
    }
  }
  const ends = new Map<string, _Result>();
  const syscalls = new Set<string>();
  for (const e of journal) {
    if (e.kind === "syscall") {
      const key = `${e.callId}#${e.sys}`;
      if (syscalls.has(key)) say(`syscall ${key} (${String(e.data["name"])}) completed twice`);
      syscalls.add(key);
    } else if (e.kind === "tool.end" && e.callId !== null) {
      if (ends.has(e.callId)) say(`call ${e.callId} ended twice`);
      ends.set(e.callId, e.data["result"] as _Result);
    }
  }
  let refused = 0;
  for (const [id, call] of calls) {
    const result = ends.get(id);
    if (result === undefined) {
      say(`call ${id} (${call.name}) never ended`);
      continue;
    }
    const secondOnce = call.name === "write_text_file" && call.args["path"] === "once.txt" &&
      call.args["text"] === `${plan.agent} second\n`;
    if (secondOnce) {
      if (result.ok || result.error.code !== "EPERM") {
        say(`the second once.txt write (${id}) was not refused EPERM: ${JSON.stringify(result)}`);
      } else refused++;
      continue;
    }
    if (!result.ok) {
      say(
        `call ${id} ${call.name} ${
          JSON.stringify(call.args).slice(0, 120)
        } failed: ${result.error.code} ${result.error.message}`,
      );
      continue;
    }
    if (call.name === "ask_human") {
      const answer = (result.value as { answer?: unknown }).answer;
      if (answer !== `answer to ${String(call.args["question"])}`) {
        say(`question ${id} got the answer ${JSON.stringify(answer)}`);
      }
    }
  }
  if (refused !== 1) say(`${refused} refused second once.txt writes, expected 1`);
}

/** Exactly the planned children, each made once and ended as planned. */
function _checkChildren(
  say: (d: string) => void,
  agent: _Agent,
  journal: _Entry[],
  processes: { children: _Process[]; all: _Process[] },
): void {
  const { plan } = agent;
  const { children, all } = processes;
  const forks = children.filter((q) => q.forkedFrom !== null);
  const spawned = children.filter((q) => q.forkedFrom === null && q.imageId === CHILD_IMAGE);
  const sleepers = children.filter((q) => q.forkedFrom === null && q.imageId === SLEEPER_IMAGE);
  const list = (qs: _Process[]) => qs.map((q) => q.pid).join(", ");
  if (forks.length !== plan.forks) {
    say(`${forks.length} forks (${list(forks)}), expected ${plan.forks}`);
  }
  if (spawned.length !== plan.spawns) {
    say(`${spawned.length} spawned children (${list(spawned)}), expected ${plan.spawns}`);
  }
  if (sleepers.length !== plan.sleepers) {
    say(`${sleepers.length} sleepers (${list(sleepers)}), expected ${plan.sleepers}`);
  }
  if (forks.length + spawned.length + sleepers.length !== children.length) {
    say(
      `unexpected children: ${
        list(children.filter((q) => ![...forks, ...spawned, ...sleepers].includes(q)))
      }`,
    );
  }
  for (const q of forks) {
    if (q.state !== "exited" || JSON.stringify(q.result) !== '{"forked":true}') {
      say(`fork ${q.pid} ended ${q.state} ${JSON.stringify(q.result)} (${q.reason})`);
    }
  }
  for (const q of spawned) {
    if (q.state !== "exited" || JSON.stringify(q.result) !== '{"child":true}') {
      say(`child ${q.pid} ended ${q.state} ${JSON.stringify(q.result)} (${q.reason})`);
    }
  }
  for (const q of sleepers) if (q.state !== "killed") say(`sleeper ${q.pid} ended ${q.state}`);
  // Each child is the one its fork or spawn call answered: none made and then forgotten.
  const answered = new Set<string>();
  for (const e of journal) {
    if (e.kind !== "tool.end") continue;
    if (e.data["name"] !== "fork_process" && e.data["name"] !== "spawn_process") continue;
    const result = e.data["result"] as _Result;
    if (!result.ok) continue;
    const pid = String((result.value as { pid?: unknown }).pid);
    answered.add(pid);
    if (children.some((q) => q.pid === pid)) continue;
    // A call that answered a child the kernel does not have as this agent's: say what is there.
    const q = all.find((x) => x.pid === pid);
    const trail = journal.filter((x) => x.callId === e.callId)
      .map((x) => `${x.seq} ${x.kind}${x.sys === null ? "" : `#${x.sys}`}`).join(", ");
    say(
      `${e.data["name"]} call ${e.callId} answered ${pid} (journal ${trail}; read at boot ${
        agent.readAt.get(e.seq) ?? "end"
      }), but ${
        q === undefined
          ? "no such process exists"
          : `${pid} is ${q.imageId} of parent ${q.parentPid} (forked from ${q.forkedFrom}), ${q.state}`
      }`,
    );
  }
  for (const q of children) {
    if (!answered.has(q.pid)) {
      say(`child ${q.pid} (${q.imageId}) is answered by no fork or spawn call`);
    }
  }
}

/** Exactly the planned questions and approvals, each asked once and decided. */
function _checkRequests(say: (d: string) => void, plan: AgentPlan, requests: _Human[]): void {
  const questions = requests.filter((r) => r.kind === "question");
  const approvals = requests.filter((r) => r.kind === "approval");
  if (questions.length !== plan.questions.length) {
    say(
      `${questions.length} questions (${
        questions.map((r) => r.id).join(", ")
      }), expected ${plan.questions.length}`,
    );
  }
  if (approvals.length !== plan.approvals.length) {
    say(
      `${approvals.length} approvals (${
        approvals.map((r) => r.id).join(", ")
      }), expected ${plan.approvals.length}`,
    );
  }
  if (questions.length + approvals.length !== requests.length) {
    say(
      `unexpected requests: ${
        requests.filter((r) => r.kind !== "question" && r.kind !== "approval").map((r) => r.id)
          .join(", ")
      }`,
    );
  }
  const seen = new Map<string, string>();
  for (const r of requests) {
    const key = `${r.callId}#${r.sys}`;
    const twin = seen.get(key);
    if (twin !== undefined) {
      say(`requests ${twin} and ${r.id} were raised by the same syscall ${key}`);
    }
    seen.set(key, r.id);
  }
  for (const r of questions) if (r.state !== "answered") say(`question ${r.id} is ${r.state}`);
  for (const r of approvals) {
    if (r.state !== "approved" || !r.consumed) {
      say(`approval ${r.id} is ${r.state}${r.consumed ? "" : ", not consumed"}`);
    }
  }
}

/** Every planned file holds its content; no file is there that no plan wrote. */
async function _checkFiles(c: _Campaign): Promise<void> {
  const present = new Set(await _walk(c.workspace, "out"));
  for (const a of c.agents) {
    for (const [path, text] of a.plan.files) {
      const got = await Deno.readTextFile(join(c.workspace, path)).catch(() => null);
      if (got !== text) {
        c.problem(
          a.plan.agent,
          `${path} holds ${JSON.stringify(got)}, expected ${JSON.stringify(text)}`,
        );
      }
      present.delete(path);
    }
  }
  for (const path of present) c.problem(path.split("/")[1] ?? path, `unexpected file ${path}`);
}
