import assert from "node:assert/strict";
import { hasCode } from "./errors.ts";
import { parseModelOptions, resolveEndpoint } from "./model_options.ts";

const defaults = {
  keyEnv: "OPENAI_API_KEY",
  baseURLEnv: "OPENAI_BASE_URL",
  vendorBaseURL: "https://api.openai.com/v1",
};

Deno.test("parseModelOptions refuses a secret-looking option by name and reports bad fields by path", () => {
  for (const k of ["apiKey", "api_key", "token", "authorization", "secret"]) {
    assert.throws(
      () => parseModelOptions("openai/m", { [k]: "sk-hidden-value" }),
      (e) => hasCode(e, "EINVAL") && e.message.includes(`'${k}'`) && !e.message.includes("hidden"),
    );
  }
  assert.throws(
    () => parseModelOptions("openai/m", { maxTokens: -1, apiKeyEnv: "HOME" }),
    /model\.options\.apiKeyEnv: a variable named \*_API_KEY; model\.options\.maxTokens: /,
  );
  assert.deepEqual(parseModelOptions("openai/m", { maxTokens: 5, contextTokens: 9 }), {
    maxTokens: 5,
    contextTokens: 9,
  });
});

Deno.test("resolveEndpoint sends the provider's key only to its home URL, or the key the image names", () => {
  const env = new Map([
    ["OPENAI_API_KEY", "sk-home-000000"],
    ["DEEPSEEK_API_KEY", "sk-deep-000000"],
  ]);
  const ctx = { defaults, env };
  assert.deepEqual(resolveEndpoint("openai/m", {}, ctx), {
    baseURL: "https://api.openai.com/v1",
    apiKey: "sk-home-000000",
    keyEnv: "OPENAI_API_KEY",
    vendor: true,
  });
  assert.equal(
    resolveEndpoint("openai/m", { baseURL: "http://127.0.0.1:11434/v1" }, ctx).apiKey,
    null,
  );
  assert.equal(
    resolveEndpoint("openai/m", {
      baseURL: "https://api.deepseek.com",
      apiKeyEnv: "DEEPSEEK_API_KEY",
    }, ctx)
      .apiKey,
    "sk-deep-000000",
  );
  const moved = new Map([["OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/"], [
    "OPENAI_API_KEY",
    "sk-x-00000",
  ]]);
  const e = resolveEndpoint("openai/m", {}, { defaults, env: moved });
  assert.deepEqual([e.baseURL, e.apiKey, e.vendor], [
    "http://127.0.0.1:8000/v1",
    "sk-x-00000",
    false,
  ]);
  assert.throws(
    () => resolveEndpoint("openai/m", { apiKeyEnv: "MISSING_API_KEY" }, ctx),
    (err) => hasCode(err, "EPERM") && /MISSING_API_KEY is not set/.test(err.message),
  );
});
