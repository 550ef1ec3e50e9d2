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
export interface VendorConfig<S extends SdkErrorClasses = SdkErrorClasses> {
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
  /**
   * Loads the SDK (its client class, which also carries its error classes)
   * at the first call: a kernel that never calls this vendor never loads it
   * (each official SDK costs some 25 MiB of memory once imported).
   */
  loadSdk: () => Promise<S>;
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
export function vendorConfig<S extends SdkErrorClasses>(
  options: VendorOptions,
  defaults: Omit<VendorConfig<S>, "env" | "retry">,
): VendorConfig<S> {
  return {
    name: options.name ?? defaults.name,
    env: options.env ?? Deno.env,
    keyEnv: options.keyEnv ?? defaults.keyEnv,
    baseURLEnv: options.baseURLEnv ?? defaults.baseURLEnv,
    vendorBaseURL: defaults.vendorBaseURL,
    retry: options.retry ?? {},
    loadSdk: _once(defaults.loadSdk),
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
 * Performs one model turn: `open` makes the client (from the loaded SDK) for
 * a checked call and returns its attempt. Failures are key-free `LibosError`s.
 */
export async function callVendor<S extends SdkErrorClasses>(
  config: VendorConfig<S>,
  request: ModelRequest,
  open: (call: VendorCall, sdk: S) => (signal: AbortSignal) => Promise<ModelResponse>,
): Promise<ModelResponse> {
  const spec = request.model;
  const model = "name" in spec ? spec.name ?? "" : "";
  const target = `${config.name}/${model}`;
  let endpoint: Endpoint | null = null;
  const sdk = await config.loadSdk();
  return await runModelCall(target, request.signal, {
    sdk,
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
    const attempt = open({ target, model, options, endpoint, timeoutMs }, sdk);
    return { timeoutMs, maxRetries: options.maxRetries, attempt };
  });
}

/** `load`, run once: later calls share its promise (a failed load is tried again). */
function _once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => {
    loaded ??= load().catch((error) => {
      loaded = null;
      throw error;
    });
    return loaded;
  };
}
