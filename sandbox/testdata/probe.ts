import { defineTool, z } from "libos/tool";

/** Specifiers in variables, so that no tool check resolves them ahead of time. */
const REMOTE = "https://example.com/x.js";
const NPM = "npm:hono@4.13.19";

async function attempt(body: () => unknown): Promise<string> {
  try {
    await body();
    return "allowed";
  } catch (error) {
    return `refused: ${error instanceof Error ? error.name : typeof error}`;
  }
}

/**
 * Tries each way out of the sandbox that Deno's permissions do not all cover,
 * and reports what happened: the test asserts the whole set in one comparison.
 */
export default defineTool({
  name: "probe",
  description: "Reports which escapes the sandbox refuses",
  input: z.object({ file: z.string() }),
  output: z.record(z.string(), z.string()),
  async run({ file }) {
    const g = globalThis as Record<string, unknown>;
    const url = new URL(`file://${file}`).href;
    return {
      importText: await attempt(() => import(url, { with: { type: "text" } })),
      importJson: await attempt(() => import(url, { with: { type: "json" } })),
      importModule: await attempt(() => import(url)),
      importRemote: await attempt(() => import(REMOTE)),
      importNpm: await attempt(() => import(NPM)),
      readFile: await attempt(() => Deno.readTextFile(file)),
      env: await attempt(() => Deno.env.get("HOME")),
      fetch: await attempt(() => fetch("http://127.0.0.1:8/")),
      run: await attempt(() => new Deno.Command("/bin/sh", { args: ["-c", "true"] }).output()),
      eval: await attempt(() => eval("1 + 1")),
      newFunction: await attempt(() => new Function("return 1")()),
      broadcastChannel: typeof g["BroadcastChannel"],
      caches: typeof g["caches"],
      worker: typeof g["Worker"],
      exit: await attempt(() => Deno.exit(3)),
    };
  },
});
