/**
 * The shape every vendor provider's turn has, on whichever SDK: refuse a
 * scripted model, validate the image's options, resolve where the call goes
 * and with which key (the key rule of `model_options.ts`), make the client,
 * then attempt with a deadline and retries (`runModelCall`). A provider
 * supplies only the client and one attempt.
 *
 * @module
 */
import { libosError } from "../errors.ts";
import { runModelCall, type SdkErrorClasses } from "./model_call_error.ts";
import {
  type Endpoint,
  type EnvReader,
  type ModelOptions,
  parseModelOptions,
  resolveEndpoint,
} from "./model_options.ts";
import type { ModelRequest, ModelResponse } from "./model_provider.ts";
import type { RetryOptions } from "./model_retry.ts";

/** How a vendor provider is set up: its name, where keys live, its vendor URL and SDK. */
export interface VendorConfig {
  /** The provider name images use. */
  name: string;
  /** Where keys and base URLs are read, at each call. */
  env: EnvReader;
  /** The provider's own key variable, e.g. `OPENAI_API_KEY`. */
  keyEnv: string;
  /** The variable that moves the provider's own base URL, e.g. `OPENAI_BASE_URL`. */
  baseURLEnv: string;
  /** The vendor's API. */
  vendorBaseURL: string;
  retry: RetryOptions;
  /** The SDK's error classes, to judge failures. */
  sdk: SdkErrorClasses;
}

/** What a provider's options may set of its {@linkcode VendorConfig}. */
export interface VendorOptions {
  name?: string;
  env?: EnvReader;
  keyEnv?: string;
  baseURLEnv?: string;
  retry?: RetryOptions;
}

/** A provider's config: its options over its defaults (`Deno.env`, no retry overrides). */
export function vendorConfig(
  options: VendorOptions,
  defaults: Omit<VendorConfig, "env" | "retry">,
): VendorConfig {
  return {
    name: options.name ?? defaults.name,
    env: options.env ?? Deno.env,
    keyEnv: options.keyEnv ?? defaults.keyEnv,
    baseURLEnv: options.baseURLEnv ?? defaults.baseURLEnv,
    vendorBaseURL: defaults.vendorBaseURL,
    retry: options.retry ?? {},
    sdk: defaults.sdk,
  };
}

/** One vendor call, ready for its client: what it is, where it goes, its deadline. */
export interface VendorCall {
  /** `provider/model`, as errors name it. */
  target: string;
  model: string;
  options: ModelOptions;
  endpoint: Endpoint;
  /** The deadline of one attempt. */
  timeoutMs: number;
}

/**
 * Performs one model turn: `open` makes the client for a checked call and
 * returns its attempt. Failures are key-free `LibosError`s.
 */
export async function callVendor(
  config: VendorConfig,
  request: ModelRequest,
  open: (call: VendorCall) => (signal: AbortSignal) => Promise<ModelResponse>,
): Promise<ModelResponse> {
  const spec = request.model;
  const model = "name" in spec ? spec.name ?? "" : "";
  const target = `${config.name}/${model}`;
  let endpoint: Endpoint | null = null;
  return await runModelCall(target, request.signal, {
    sdk: config.sdk,
    retry: config.retry,
    secrets: () => [endpoint?.apiKey ?? undefined],
  }, () => {
    if (!("options" in spec) && spec.provider === "scripted") {
      throw libosError("EINVAL", `Cannot call model '${target}': the image's model is scripted`);
    }
    const options = parseModelOptions(target, "options" in spec ? spec.options : undefined);
    endpoint = resolveEndpoint(target, options, {
      defaults: {
        keyEnv: config.keyEnv,
        baseURLEnv: config.baseURLEnv,
        vendorBaseURL: config.vendorBaseURL,
      },
      env: config.env,
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    const attempt = open({ target, model, options, endpoint, timeoutMs });
    return { timeoutMs, maxRetries: options.maxRetries, attempt };
  });
}
