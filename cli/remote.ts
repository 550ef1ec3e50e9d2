/**
 * The commands that act over the API of a running kernel: ps, show, spawn,
 * approve, deny, outcome, audit, token, checkpoint, checkpoints, restore,
 * export, import.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { ApiClient, ApiClientError, type Role, ROLES } from "../api/mod.ts";
import { bodyText, escapePreview, isTerminal, loadImageFile, parseCeilingItem } from "../mod.ts";
import { printRequest, safeLine, table } from "./terminal.ts";
import { env, readToken } from "./flags.ts";

/** The verbs that talk to a running kernel over its API. */
export async function remote(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      data: { type: "string", default: ".libos" },
      image: { type: "string" },
      goal: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      ceiling: { type: "string", multiple: true },
      always: { type: "boolean", default: false },
      reason: { type: "string" },
      subtree: { type: "boolean", default: false },
      out: { type: "string" },
      value: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  const usage = (text: string) => {
    console.error(safeLine`usage: ${text}`);
    return 2;
  };
  const token = values.token ?? env("LIBOS_TOKEN") ?? env("LIBOS_ADMIN_TOKEN") ??
    await readToken(join(resolve(values.data), "admin.token"));
  if (token === null || token === "") {
    console.error(
      "libos: no token: pass --token, set LIBOS_TOKEN, or run where --data DIR holds admin.token",
    );
    return 2;
  }
  const client = new ApiClient({
    url: values.url ?? env("LIBOS_URL") ?? "http://127.0.0.1:8787",
    token,
  });
  const shown = (text: string, max = 200) => escapePreview(text, { max, oneLine: true });
  try {
    switch (command) {
      case "ps": {
        const rows = (await client.processes()).map((p) => [
          p.pid,
          p.parentPid ?? "-",
          p.state,
          `${p.imageId}@${p.imageVersion}`,
          shown(bodyText(p.goal), 60),
        ]);
        table([["PID", "PARENT", "STATE", "IMAGE", "GOAL"], ...rows]);
        return 0;
      }
      case "show": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos show PID");
        const p = await client.process(pid);
        const [grants, requests, journal] = await Promise.all([
          client.capabilities(pid),
          client.humanRequests({ state: "pending" }),
          client.journal(pid, { limit: 1000 }),
        ]);
        console.log(
          safeLine`${p.pid}  ${p.state}${p.reason === null ? "" : ` (${shown(p.reason)})`}`,
        );
        console.log(safeLine`  image    ${p.imageId}@${p.imageVersion}`);
        console.log(safeLine`  parent   ${p.parentPid ?? "-"}    cwd /${p.cwd}`);
        console.log(safeLine`  goal     ${shown(bodyText(p.goal))}`);
        console.log(
          safeLine`  usage    steps ${p.usage.steps}, tool calls ${p.usage.toolCalls}, tokens ${p.usage.tokens}, children ${p.usage.children}`,
        );
        if (p.usage.subtreeReservedTokens > 0 || p.usage.subtreeReservedCostMicroUsd > 0) {
          console.log(
            safeLine`  held     ${p.usage.reservedTokens} tokens by its model call in flight, ${p.usage.subtreeReservedTokens} by its subtree's`,
          );
        }
        if (isTerminal(p.state)) {
          console.log(safeLine`  result   ${shown(JSON.stringify(p.result) ?? "null")}`);
        }
        console.log("  grants");
        for (const g of grants) {
          const status = g.revoked ? "revoked" : g.uses === 0 ? "spent" : "live";
          console.log(
            safeLine`    ${g.id} ${g.effect} ${shown(g.resource)} [${
              g.rights.join(",")
            }] ${status}`,
          );
        }
        for (const r of requests.filter((x) => x.pid === pid)) printRequest(r);
        console.log("  journal (last 20)");
        for (const e of journal.slice(-20)) {
          console.log(safeLine`    #${e.seq} ${e.kind} ${shown(JSON.stringify(e.data), 120)}`);
        }
        return 0;
      }
      case "spawn": {
        if (values.image === undefined) return usage("libos spawn --image F --goal G");
        const isFile = await Deno.stat(values.image).then((s) => s.isFile, () => false);
        const img = isFile ? await loadImageFile(values.image) : null;
        const { pid } = await client.spawn({
          image: img ?? values.image,
          goal: values.goal ?? img?.description ?? img?.name ?? "",
        });
        console.log(safeLine`spawned ${pid}`);
        return 0;
      }
      case "approve":
      case "deny": {
        const [id] = positionals;
        if (id === undefined) return usage(`libos ${command} ID`);
        const r = await client.decide(
          id,
          command === "approve"
            ? { decision: "approve", scope: values.always ? "always" : "once" }
            : { decision: "deny" },
        );
        console.log(safeLine`${r.id} ${r.state} (${r.kind} from ${r.pid})`);
        return 0;
      }
      case "outcome": {
        const [id, decision] = positionals;
        if (
          id === undefined ||
          (decision !== "happened" && decision !== "retry" && decision !== "fail")
        ) {
          return usage("libos outcome ID happened|retry|fail [--value JSON]");
        }
        if (values.value !== undefined && decision !== "happened") {
          return usage("--value goes with happened only");
        }
        let value: unknown;
        if (values.value !== undefined) {
          try {
            value = JSON.parse(values.value);
          } catch {
            return usage(`--value must be JSON, got '${values.value}'`);
          }
        }
        const r = await client.decide(id, {
          decision,
          ...(value === undefined ? {} : { value }),
        });
        console.log(safeLine`${r.id} ${r.answer ?? r.state} (${r.kind} from ${r.pid})`);
        return 0;
      }
      case "audit": {
        if (positionals[0] !== "verify") return usage("libos audit verify");
        const v = await client.verifyAudit();
        if (v.ok) {
          console.log(safeLine`audit chain ok: ${v.count} records verified`);
          return 0;
        }
        console.log(
          safeLine`audit chain BROKEN at record ${v.seq}: ${v.reason} (${v.count} records read)`,
        );
        return 1;
      }
      case "token": {
        const role = values.role;
        if (positionals[0] !== "create" || role === undefined) {
          return usage(
            "libos token create --role viewer|operator|admin [--name N] [--ceiling 'RESOURCE:RIGHTS']...",
          );
        }
        if (!(ROLES as readonly string[]).includes(role)) {
          return usage(`--role must be one of ${ROLES.join(", ")}, got '${role}'`);
        }
        const ceiling = values.ceiling === undefined || values.ceiling.length === 0
          ? undefined
          : values.ceiling.map(parseCeilingItem);
        const created = await client.createToken({
          role: role as Role,
          ...(values.name === undefined ? {} : { name: values.name }),
          ...(ceiling === undefined ? {} : { ceiling }),
        });
        console.log(
          safeLine`token ${created.info.id} '${created.info.name}' (${created.info.role}), shown once:`,
        );
        console.log(safeLine`${created.token}`);
        return 0;
      }
      case "checkpoint": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos checkpoint PID [--reason R] [--subtree]");
        const ck = await client.checkpoint(pid, {
          ...(values.reason === undefined ? {} : { reason: values.reason }),
          subtree: values.subtree,
        });
        console.log(
          safeLine`${ck.id} of ${ck.pids.join(", ")} (journal #${ck.journalSeq}, ${
            ck.hash.slice(0, 16)
          }…)`,
        );
        return 0;
      }
      case "checkpoints": {
        const [pid] = positionals;
        if (pid === undefined) return usage("libos checkpoints PID");
        const rows = (await client.checkpoints(pid)).map((c) => [
          c.id,
          c.pids.join(","),
          new Date(c.createdAt).toISOString(),
          c.createdBy,
          shown(c.reason ?? "", 50),
        ]);
        table([["ID", "PIDS", "CREATED", "BY", "REASON"], ...rows]);
        return 0;
      }
      case "restore": {
        const [id] = positionals;
        if (id === undefined) return usage("libos restore CHECKPOINT");
        const p = await client.restore(id);
        console.log(safeLine`${p.pid} restored from ${id}: ${p.state}`);
        return 0;
      }
      case "export": {
        const [id] = positionals;
        if (id === undefined || values.out === undefined) {
          return usage("libos export CHECKPOINT --out FILE");
        }
        const bytes = await client.exportBundle(id);
        await Deno.writeFile(values.out, bytes);
        console.log(safeLine`${id}: ${bytes.length} bytes to ${values.out}`);
        return 0;
      }
      case "import": {
        const [file] = positionals;
        if (file === undefined) return usage("libos import FILE");
        const { pids } = await client.importBundle(await Deno.readFile(file));
        for (const [from, to] of Object.entries(pids)) console.log(safeLine`${from} → ${to}`);
        return 0;
      }
      default:
        return usage(`libos ${command}: unknown verb`);
    }
  } catch (error) {
    if (error instanceof ApiClientError) {
      console.error(safeLine`libos: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
