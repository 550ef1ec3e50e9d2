/**
 * The V8 flags `deno task start` runs the kernel with, read from deno.json's
 * `start` task, so that the benchmarks measure the kernel as it is started.
 */
export function startFlags(): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  return config.tasks["start"]!.split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
}
