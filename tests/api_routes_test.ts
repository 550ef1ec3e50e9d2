/**
 * The route table: every route × every role, generated from the table the
 * app itself builds (the same `x-libos-role` that installs each route's
 * authorization and is published in the OpenAPI document).
 */
import assert from "node:assert/strict";
import { type Role, roleAllows, ROLES, type RouteInfo } from "../api/mod.ts";
import { bootPlane, request } from "./api_helpers.ts";

/** A request for a route with placeholder ids and an empty body. */
function probe(
  route: RouteInfo,
): { path: string; method: string; body?: string; headers: Record<string, string> } {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => `${name}_404`);
  const headers: Record<string, string> = {};
  if (route.method === "GET" || route.method === "DELETE") {
    return { path, method: route.method, headers };
  }
  if (route.path === "/v1/checkpoints/import") {
    headers["content-type"] = "application/octet-stream";
    return { path, method: route.method, body: "not a bundle", headers };
  }
  headers["content-type"] = "application/json";
  return { path, method: route.method, body: "{}", headers };
}

Deno.test("every route answers 401 without a token, 403 to a weaker role, and neither to a strong enough one", async () => {
  await using t = await bootPlane();
  const tokens: Record<Role, string> = {
    viewer: await t.tokenFor("viewer"),
    operator: await t.tokenFor("operator"),
    admin: await t.tokenFor("admin"),
  };
  const revoked = await t.tokenFor("admin", "gone");
  const gone = t.plane.tokens.list().find((x) => x.name === "gone")!;
  await t.call(`/v1/tokens/${gone.id}`, { method: "DELETE" });
  const headBefore = t.kernel.auditHead;
  const routes = t.plane.routes();
  assert.ok(routes.length >= 30, `only ${routes.length} routes`);

  const expected: string[] = [];
  const actual: string[] = [];
  for (const route of routes) {
    const p = probe(route);
    const send = async (token: string | null) => {
      const res = await t.plane.request(p.path, {
        method: p.method,
        headers: { ...p.headers, ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        ...(p.body === undefined ? {} : { body: p.body }),
      });
      await res.body?.cancel(); // the event stream stays open otherwise
      return res.status;
    };
    const label = `${route.method} ${route.path}`;
    const outcome = (status: number) =>
      status === 401 ? "401" : status === 403 ? "403" : status >= 500 ? `${status}!` : "passes";
    // Without a token, and with a revoked or malformed one.
    for (
      const [who, token] of [["none", null], ["revoked", revoked], [
        "junk",
        "x".repeat(40),
      ]] as const
    ) {
      expected.push(`${label} ${who}: ${route.access === "public" ? "passes" : "401"}`);
      actual.push(`${label} ${who}: ${outcome(await send(token))}`);
    }
    for (const role of ROLES) {
      const allowed = route.access === "public" || roleAllows(role, route.access);
      expected.push(`${label} ${role}: ${allowed ? "passes" : "403"}`);
      actual.push(`${label} ${role}: ${outcome(await send(tokens[role]))}`);
    }
  }
  assert.deepEqual(actual, expected);
  // Placeholders name nothing and bodies are empty: no route changed state.
  // (Minting and revoking above were the last audited changes.)
  assert.deepEqual(t.kernel.auditHead, headBefore);
  assert.equal(t.kernel.list().length, 0);
});

Deno.test("the route table covers DESIGN §5 and the OpenAPI document publishes every route with its role", async () => {
  await using t = await bootPlane();
  const table = t.plane.routes().map((r) => `${r.method} ${r.path}`).sort();
  const design = [
    "GET /v1/health",
    "GET /v1/images",
    "POST /v1/images",
    "POST /v1/processes",
    "GET /v1/processes",
    "GET /v1/processes/{pid}",
    "GET /v1/processes/{pid}/wait",
    "POST /v1/processes/{pid}/signal",
    "POST /v1/processes/{pid}/fork",
    "GET /v1/processes/{pid}/capabilities",
    "POST /v1/processes/{pid}/capabilities",
    "DELETE /v1/capabilities/{id}",
    "GET /v1/processes/{pid}/objects",
    "GET /v1/objects/{oid}",
    "GET /v1/processes/{pid}/journal",
    "GET /v1/human",
    "POST /v1/human/{id}",
    "POST /v1/processes/{pid}/checkpoints",
    "GET /v1/processes/{pid}/checkpoints",
    "POST /v1/checkpoints/{id}/restore",
    "GET /v1/checkpoints/{id}/bundle",
    "POST /v1/checkpoints/import",
    "GET /v1/tools",
    "GET /v1/audit",
    "GET /v1/audit/verify",
    "GET /v1/events",
  ];
  for (const route of design) assert.ok(table.includes(route), `missing ${route}`);

  const doc = (await request(t.plane, "/openapi.json", { token: null })).json;
  assert.equal(doc.openapi, "3.1.0");
  const published: string[] = [];
  for (
    const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    )
  ) {
    for (const [method, op] of Object.entries(ops)) {
      published.push(`${method.toUpperCase()} ${path} ${op["x-libos-role"]}`);
      const secured = op["x-libos-role"] !== "public";
      assert.deepEqual(op["security"], secured ? [{ bearer: [] }] : [], `${method} ${path}`);
      if (secured) {
        assert.ok(
          (op["responses"] as Record<string, unknown>)["401"],
          `${method} ${path} documents 401`,
        );
      }
    }
  }
  assert.deepEqual(
    published.sort(),
    t.plane.routes().map((r) => `${r.method} ${r.path} ${r.access}`).sort(),
  );
  // Request schemas are the kernel's own, published as named components.
  assert.ok(doc.components.schemas.AgentImage.properties.capabilities);
  assert.ok(doc.components.schemas.GrantSpec.properties.resource);
  assert.equal(doc.components.securitySchemes.bearer.scheme, "bearer");
});

Deno.test("the docs, the console and health are public; the console page is locked down by CSP", async () => {
  await using t = await bootPlane();
  const docs = await request(t.plane, "/docs", { token: null });
  assert.equal(docs.status, 200);
  assert.match(docs.text, /openapi\.json/);
  assert.match(docs.text, /\/v1\/processes\/\{pid\}\/wait/, "every route is listed");
  assert.ok(
    !/<script|https?:\/\/(?!127)/.test(docs.text.replace(/http:\/\/localhost[^"]*/g, "")),
    "no script, nothing fetched from elsewhere",
  );
  const page = await request(t.plane, "/", { token: null });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  assert.match(page.text, /<script src="\/console\.js"/);
  const script = await request(t.plane, "/console.js", { token: null });
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type")!, /javascript/);
  const health = await request(t.plane, "/v1/health", { token: null });
  assert.deepEqual([health.status, health.json], [200, { ok: true }]);
});
