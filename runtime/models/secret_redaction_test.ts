import assert from "node:assert/strict";
import { redactSecrets } from "./secret_redaction.ts";

const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";

Deno.test("redactSecrets removes a key in plain, URL-encoded and JSON-escaped forms and by its ends", () => {
  const odd = 'k3y/with+"quote"';
  const text = [
    `plain ${KEY}`,
    `url ${encodeURIComponent(odd)}`,
    `json ${JSON.stringify({ k: odd })}`,
    `head ${KEY.slice(0, 16)}…`,
    `tail …${KEY.slice(-16)}`,
  ].join("\n");
  const out = redactSecrets(text, [KEY, odd]);
  assert.ok(!out.includes(KEY) && !out.includes(KEY.slice(0, 16)) && !out.includes(KEY.slice(-16)));
  assert.ok(!out.includes(odd) && !out.includes(encodeURIComponent(odd)));
  assert.equal(out.split("[redacted]").length - 1, 5);
});

Deno.test("redactSecrets leaves text alone for missing or very short secrets", () => {
  assert.equal(redactSecrets("no-key here", [undefined, "no-key", ""]), "no-key here");
});
