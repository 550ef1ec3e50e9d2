/**
 * The web console: a static page, a stylesheet and a script, served by the
 * control plane without a build step. The page holds no data and no secret;
 * its script reads the API with the token the operator pastes. The content
 * security policy lets the page load only its own script and style and talk
 * only to its own origin.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ApiEnv } from "../context.ts";

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const FILES = [
  { path: "/", file: "index.html", type: "text/html; charset=utf-8" },
  { path: "/console.js", file: "console.js", type: "text/javascript; charset=utf-8" },
  { path: "/console.css", file: "console.css", type: "text/css; charset=utf-8" },
] as const;

/** Registers `/`, `/console.js` and `/console.css` (public: they hold no data). */
export async function consoleRoutes(app: OpenAPIHono<ApiEnv>): Promise<void> {
  for (const f of FILES) {
    const text = await Deno.readTextFile(new URL(`./${f.file}`, import.meta.url));
    app.get(f.path, (c) =>
      c.body(text, 200, {
        "content-type": f.type,
        "content-security-policy": CSP,
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cache-control": "no-cache",
      }));
  }
}
