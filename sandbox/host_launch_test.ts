import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bubblewrapArgs,
  denoArgs,
  hostDenoDir,
  type HostPaths,
  hostPaths,
  planLaunch,
} from "./host_launch.ts";
import { resolveLimits } from "./limits.ts";

const PATHS: HostPaths = {
  deno: "/usr/local/bin/deno",
  denoDir: "/root/.cache/deno",
  zodDir: "/root/.cache/deno/npm/registry.npmjs.org/zod",
  zodVersion: "4.6.7",
  hostFiles: ["/w/sandbox/host_main.ts", "/w/sandbox/frame.ts", "/w/sandbox/protocol.ts"],
  hostMain: "/w/sandbox/host_main.ts",
};

/** The `[source, destination]` of every bind in a bwrap command line. */
function binds(args: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--ro-bind" || args[i] === "--bind") {
      out.push([args[i]!, args[i + 1]!, args[i + 2]!]);
    }
  }
  return out;
}

Deno.test("bubblewrap shows a host only the Deno binary, libraries, zod and its own files, read-only", () => {
  const args = bubblewrapArgs(PATHS, ["/lib", "/usr/lib"]);
  assert.deepEqual(binds(args), [
    ["--ro-bind", "/lib", "/lib"],
    ["--ro-bind", "/usr/lib", "/usr/lib"],
    ["--ro-bind", "/usr/local/bin/deno", "/usr/local/bin/deno"],
    ["--ro-bind", "/w/sandbox/host_main.ts", "/w/sandbox/host_main.ts"],
    ["--ro-bind", "/w/sandbox/frame.ts", "/w/sandbox/frame.ts"],
    ["--ro-bind", "/w/sandbox/protocol.ts", "/w/sandbox/protocol.ts"],
    [
      "--ro-bind",
      "/root/.cache/deno/npm/registry.npmjs.org/zod",
      "/deno/npm/registry.npmjs.org/zod",
    ],
  ]);
  for (const flag of ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]) {
    assert.ok(args.includes(flag), flag);
  }
  assert.ok(!args.includes("--share-net"));
  // Only a procfs of the sandbox's own pid namespace, never a bind of the host's /proc.
  assert.equal(args[args.indexOf("--proc") + 1], "/proc");
  assert.ok(!binds(args).some(([, source]) => source === "/proc" || source === "/"));
});

Deno.test("a host runs with no --allow flag, no remote modules, a heap limit and no eval", () => {
  const args = denoArgs({
    importMap: "data:,{}",
    hostMain: "/w/host_main.ts",
    limits: resolveLimits({ heapMb: 99 }),
  });
  assert.deepEqual(args.filter((a) => a.startsWith("--allow") || a === "-A"), []);
  for (const flag of ["--no-prompt", "--no-remote", "--cached-only", "--no-config"]) {
    assert.ok(args.includes(flag), flag);
  }
  assert.ok(
    args.includes("--v8-flags=--max-old-space-size=99,--disallow-code-generation-from-strings"),
  );
});

Deno.test("the host paths point at this checkout's host files and the cached zod", async () => {
  const paths = hostPaths();
  for (const file of [...paths.hostFiles, paths.deno, paths.zodDir]) await Deno.stat(file);
  assert.match(paths.zodVersion, /^\d+\.\d+\.\d+/);
});

Deno.test("without bubblewrap the plan says plainly that imports are not confined by the OS", async () => {
  const plan = await planLaunch({ limits: resolveLimits(), bubblewrap: "off" });
  assert.equal(plan.confinement.kind, "permissions-only");
  assert.match(plan.confinement.notice, /not confined/);
  assert.equal(plan.command, Deno.execPath());
});

Deno.test("without bubblewrap each host gets a private DENO_DIR whose npm cache holds only zod", async () => {
  const plan = await planLaunch({ limits: resolveLimits(), bubblewrap: "off" });
  assert.equal(plan.env["DENO_DIR"], undefined, "never the kernel's own cache");
  const registries: string[] = [];
  for await (const r of Deno.readDir(join(plan.npmRoot!, "npm"))) {
    for await (const p of Deno.readDir(join(plan.npmRoot!, "npm", r.name))) {
      registries.push(`${r.name}/${p.name}`);
    }
  }
  assert.deepEqual(registries, ["registry.npmjs.org/zod"]);
  const one = await hostDenoDir(plan.npmRoot!);
  const two = await hostDenoDir(plan.npmRoot!);
  try {
    assert.notEqual(one.path, two.path);
    assert.equal(
      await Deno.realPath(join(one.path, "npm")),
      await Deno.realPath(join(plan.npmRoot!, "npm")),
    );
  } finally {
    await one.remove();
    await two.remove();
  }
  await assert.rejects(Deno.stat(one.path), Deno.errors.NotFound);
});
