/**
 * The real model providers a kernel can be given, chosen from the environment:
 * `createKernel({ models: providersFromEnv(Deno.env) })`. The providers keep
 * the reader, not the keys: a key is read when a call is made, goes only into
 * that call's SDK client, and is redacted from any error the call throws.
 *
 * @module
 */
import { AnthropicProvider } from "./anthropic_provider.ts";
import type { EnvReader } from "./model_options.ts";
import type { ModelProvider } from "./model_provider.ts";
import type { RetryOptions } from "./model_retry.ts";
import { OpenAIProvider } from "./openai_provider.ts";

/** Options of {@linkcode providersFromEnv}. */
export interface ProvidersFromEnvOptions {
  /** Backoff between retries, for every provider. Default: each provider's. */
  retry?: RetryOptions;
}

/**
 * The providers that can be built:
 * - `openai` always, since an image may point it at a local server that needs
 *   no key (`options.baseURL`); a call to OpenAI itself without
 *   `OPENAI_API_KEY` fails with `EPERM` and says which variable is missing;
 * - `anthropic` when `ANTHROPIC_API_KEY` or `ANTHROPIC_BASE_URL` is set.
 */
export function providersFromEnv(
  env: EnvReader,
  options: ProvidersFromEnvOptions = {},
): ModelProvider[] {
  const retry = options.retry === undefined ? {} : { retry: options.retry };
  const out: ModelProvider[] = [new OpenAIProvider({ env, ...retry })];
  if (_set(env, "ANTHROPIC_API_KEY") || _set(env, "ANTHROPIC_BASE_URL")) {
    out.push(new AnthropicProvider({ env, ...retry }));
  }
  return out;
}

/** Which provider keys the environment holds, by variable name (never the values). */
export function modelKeysPresent(env: EnvReader): { openai: boolean; anthropic: boolean } {
  return { openai: _set(env, "OPENAI_API_KEY"), anthropic: _set(env, "ANTHROPIC_API_KEY") };
}

function _set(env: EnvReader, name: string): boolean {
  const v = env.get(name);
  return v !== undefined && v !== "";
}
