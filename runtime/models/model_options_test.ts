import assert from "node:assert/strict";
import { hasCode } from "../errors.ts";
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
    ["DEEPSEEK_BASE_URL", "https://api.deepseek.com/"],
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
    () => resolveEndpoint("openai/m", {}, { defaults, env: new Map() }),
    (err) => hasCode(err, "EPERM") && /OPENAI_API_KEY is not set/.test(err.message),
  );
});

Deno.test("a key goes only to the server the environment binds it to: an image cannot redirect it", () => {
  const defaults = {
    keyEnv: "OPENAI_API_KEY",
    baseURLEnv: "OPENAI_BASE_URL",
    vendorBaseURL: "https://api.openai.com/v1",
  };
  const env = new Map([
    ["OPENAI_API_KEY", "sk-home-000000"],
    ["DEEPSEEK_API_KEY", "sk-deep-000000"],
    ["GROQ_API_KEY", "sk-groq-000000"],
    ["GROQ_BASE_URL", "https://api.groq.com/openai/v1"],
  ]);
  const refusal = (options: Record<string, string>) => {
    try {
      resolveEndpoint("openai/m", options, { defaults, env });
      return "sent";
    } catch (error) {
      assert.ok(hasCode(error, "EPERM"));
      assert.ok(!/sk-/.test((error as Error).message), "the message names no key");
      return (error as Error).message.replace("Cannot call model 'openai/m': ", "");
    }
  };
  assert.deepEqual({
    ownKeyElsewhere: refusal({ baseURL: "https://evil.example/v1", apiKeyEnv: "OPENAI_API_KEY" }),
    unboundKey: refusal({ baseURL: "https://api.deepseek.com", apiKeyEnv: "DEEPSEEK_API_KEY" }),
    boundKeyElsewhere: refusal({ baseURL: "https://evil.example/v1", apiKeyEnv: "GROQ_API_KEY" }),
    boundKeyHome: refusal({
      baseURL: "https://api.groq.com/openai/v1/",
      apiKeyEnv: "GROQ_API_KEY",
    }),
  }, {
    ownKeyElsewhere:
      "the key in OPENAI_API_KEY goes only to 'https://api.openai.com/v1' (OPENAI_BASE_URL, else the vendor's), not to 'https://evil.example/v1'; set OPENAI_BASE_URL to send it there",
    unboundKey:
      "the key in DEEPSEEK_API_KEY goes only to the server DEEPSEEK_BASE_URL names, and it is not set, not to 'https://api.deepseek.com'; set DEEPSEEK_BASE_URL to send it there",
    boundKeyElsewhere:
      "the key in GROQ_API_KEY goes only to 'https://api.groq.com/openai/v1' (GROQ_BASE_URL), not to 'https://evil.example/v1'; set GROQ_BASE_URL to send it there",
    boundKeyHome: "sent",
  });
});
