/**
 * The browsable API docs at `/docs`: one self-contained HTML page rendered on
 * the server from the OpenAPI document (no scripts, no CDN, so it works on a
 * machine with no internet).
 *
 * @module
 */

type _Schema = Record<string, unknown>;
interface _Operation {
  summary?: string;
  tags?: string[];
  "x-libos-role"?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: _Schema }[];
  requestBody?: { content?: Record<string, { schema?: _Schema }> };
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: _Schema }> }
  >;
}

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

function _esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function _json(value: unknown): string {
  return _esc(JSON.stringify(value, null, 2));
}

/** Renders the docs page of an OpenAPI 3.1 document. */
export function docsPage(
  doc: {
    info?: { title?: string; version?: string; description?: string };
    paths?: Record<string, Record<string, _Operation>>;
  },
): string {
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = ops[method];
      if (op === undefined) continue;
      const params = (op.parameters ?? []).map((p) =>
        `<code>${_esc(p.name)}</code> (${_esc(p.in)}${p.required ? ", required" : ""})`
      ).join(", ");
      const body = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) =>
        `<details><summary>body: ${_esc(type)}</summary><pre>${
          _json(c.schema ?? {})
        }</pre></details>`
      ).join("");
      const responses = Object.entries(op.responses ?? {}).map(([code, r]) =>
        `<details><summary>${_esc(code)} ${_esc(r.description ?? "")}</summary>${
          Object.entries(r.content ?? {}).map(([type, c]) =>
            `<p>${_esc(type)}</p><pre>${_json(c.schema ?? {})}</pre>`
          ).join("")
        }</details>`
      ).join("");
      rows.push(
        `<section><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${
          _esc(path)
        }</code> <span class="role">${_esc(op["x-libos-role"] ?? "public")}</span></h3>
<p>${_esc(op.summary ?? "")}</p>${
          params === "" ? "" : `<p>parameters: ${params}</p>`
        }${body}${responses}</section>`,
      );
    }
  }
  const title = _esc(doc.info?.title ?? "API");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border-top:1px solid #ddd;padding:.4rem 0}h3{font-size:15px;margin:.4rem 0}.m{display:inline-block;min-width:4rem;font-weight:700}
.get{color:#16a}.post{color:#181}.delete{color:#b22}.role{font-size:12px;color:#666;border:1px solid #ccc;border-radius:3px;padding:0 .3rem}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:24rem}</style></head>
<body><h1>${title} <small>${_esc(doc.info?.version ?? "")}</small></h1><p>${
    _esc(doc.info?.description ?? "")
  }</p>
<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a>. Send <code>Authorization: Bearer &lt;token&gt;</code>; each route names the least role it needs.</p>
${rows.join("\n")}</body></html>`;
}
