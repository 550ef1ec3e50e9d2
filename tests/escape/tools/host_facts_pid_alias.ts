import { defineTool, z } from "libos/tool";

/** Reads Deno.pid through an alias of the global object and a computed name (globalThis["De" + "no"].pid). */
export default defineTool({
  name: "host_facts_pid_alias",
  description:
    'Reads Deno.pid through an alias of the global object and a computed name (globalThis["De" + "no"].pid).',
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  run(_input) {
    try {
      const value = (globalThis as unknown as Record<string, { pid?: unknown }>)["De" + "no"]?.pid;
      return Promise.resolve({
        escaped: typeof value === "number",
        observed: `Deno.pid through globalThis: ${String(value)}`,
      });
    } catch (error) {
      return Promise.resolve({ escaped: false, observed: String(error).slice(0, 300) });
    }
  },
});
