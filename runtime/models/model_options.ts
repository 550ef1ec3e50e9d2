/**
 * How a real model call is configured: the image's `model.options` (validated
 * here) and the environment, which alone holds API keys. An image never holds
 * a key: it may name the environment variable that does (`apiKeyEnv`), and
 * the provider reads it when it makes a call.
 *
 * The key rule: the environment binds each key to one server, and a key is
 * sent to that server only. A provider's own key (`OPENAI_API_KEY`,
 * `ANTHROPIC_API_KEY`) goes to the provider's own base URL (`OPENAI_BASE_URL`
 * or `ANTHROPIC_BASE_URL` when set, else the vendor's); any other key
 * `<NAME>_API_KEY` goes to the URL in `<NAME>_BASE_URL`, which must be set.
 * An image that points at another server gets no key; an image that names a
 * key (`apiKeyEnv`) with a server it is not bound to is refused. So neither
 * the URL nor the key's name in an image can carry the operator's key to a
 * server of the image's choosing.
 *
 * @module
 */
import { z } from "zod";
import { libosError } from "../errors.ts";

/** Reads environment variables (`Deno.env` is one; so is a `Map`). */
export interface EnvReader {
  get(name: string): string | undefined;
}

/** A price in US dollars per million tokens. */
export const PriceSchema = z.strictObject({
  inputPerMTok: z.number().nonnegative(),
  outputPerMTok: z.number().nonnegative(),
});

/**
 * `model.options` of an image on a real provider. The kernel reads `price`
 * (cost budgets) and `contextTokens` (the context policy); the provider reads
 * the rest.
 */
export const ModelOptionsSchema = z.strictObject({
  /** The server, e.g. `http://127.0.0.1:11434/v1` for Ollama. */
  baseURL: z.url({ protocol: /^https?$/ }).optional(),
  /** The environment variable holding this server's key; it must end in `_API_KEY`. */
  apiKeyEnv: z.string().regex(/^[A-Z][A-Z0-9_]*_API_KEY$/, "a variable named *_API_KEY")
    .optional(),
  temperature: z.number().min(0).max(2).optional(),
  /** The most output tokens of one turn (Anthropic: default 4096). */
  maxTokens: z.number().int().positive().optional(),
  /** OpenAI-compatible only: chat completions (default) or the Responses API. */
  api: z.enum(["chat", "responses"]).optional(),
  /** The deadline of one attempt. Default: 120000 ms. */
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
  /** Retries on 429, 5xx and timeouts. Default: 2. */
  maxRetries: z.number().int().min(0).max(10).optional(),
  /** Stream the reply (deltas go to the event stream). Default: true. */
  stream: z.boolean().optional(),
  /** Overrides the built-in price table for cost budgets. */
  price: PriceSchema.optional(),
  /** The context policy's budget for the prompt, in tokens. */
  contextTokens: z.number().int().positive().optional(),
});
/** Validated `model.options`. */
export type ModelOptions = z.infer<typeof ModelOptionsSchema>;

/**
 * Validates `model.options` for `target` (`provider/model`). A key written into
 * the image (`apiKey`, `key`, `authorization`, …) is refused by name, with no
 * echo of its value.
 */
export function parseModelOptions(target: string, options: unknown): ModelOptions {
  const raw = options ?? {};
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    for (const k of Object.keys(raw)) {
      if (_SECRET_NAME.test(k)) {
        throw libosError(
          "EINVAL",
          `Cannot use model '${target}': option '${k}' would put a secret into the image; ` +
            `name the environment variable with 'apiKeyEnv' instead`,
          { field: `model.options.${k}` },
        );
      }
    }
  }
  const parsed = ModelOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      `${["model", "options", ...i.path].join(".")}: ${i.message}`
    );
    throw libosError("EINVAL", `Cannot use model '${target}': ${issues.join("; ")}`);
  }
  return parsed.data;
}

const _SECRET_NAME =
  /^(api[-_]?key|key|(auth|access|bearer)?[-_]?token|secret|client[-_]?secret|authorization|password|headers)$/i;

/** Where a provider's calls go by default. */
export interface EndpointDefaults {
  /** The variable holding the provider's own key, e.g. `OPENAI_API_KEY`. */
  keyEnv: string;
  /** The variable that moves the provider's own base URL, e.g. `OPENAI_BASE_URL`. */
  baseURLEnv: string;
  /** The vendor's URL. */
  vendorBaseURL: string;
}

/** The server and key of one call. */
export interface Endpoint {
  baseURL: string;
  /** The key, or null for a server that needs none (a local model server). */
  apiKey: string | null;
  /** Where the key came from (never the key). */
  keyEnv: string | null;
  /** Whether the call goes to the vendor's own URL. */
  vendor: boolean;
}

/** Resolves the server and key of a call to `target` (see the module doc for the key rule). */
export function resolveEndpoint(
  target: string,
  options: ModelOptions,
  context: { defaults: EndpointDefaults; env: EnvReader },
): Endpoint {
  const { defaults, env } = context;
  const home = _trim(env.get(defaults.baseURLEnv) || defaults.vendorBaseURL);
  const baseURL = _trim(options.baseURL ?? home);
  const vendor = baseURL === _trim(defaults.vendorBaseURL);
  const keyEnv = options.apiKeyEnv ?? (baseURL === home ? defaults.keyEnv : null);
  if (keyEnv !== null) {
    const boundEnv = keyEnv === defaults.keyEnv
      ? defaults.baseURLEnv
      : keyEnv.replace(/_API_KEY$/, "_BASE_URL");
    const bound = keyEnv === defaults.keyEnv ? home : _trim(env.get(boundEnv) ?? "");
    if (bound !== baseURL) {
      const where = keyEnv === defaults.keyEnv
        ? `'${bound}' (${boundEnv}, else the vendor's)`
        : bound === ""
        ? `the server ${boundEnv} names, and it is not set`
        : `'${bound}' (${boundEnv})`;
      throw libosError(
        "EPERM",
        `Cannot call model '${target}': the key in ${keyEnv} goes only to ${where}, not to '${baseURL}'; set ${boundEnv} to send it there`,
        { resource: `model:${target}` },
      );
    }
  }
  const apiKey = keyEnv === null ? null : env.get(keyEnv) || null;
  if (apiKey === null && keyEnv !== null && (vendor || options.apiKeyEnv !== undefined)) {
    throw libosError(
      "EPERM",
      `Cannot call model '${target}': the environment variable ${keyEnv} is not set`,
      { resource: `model:${target}` },
    );
  }
  return { baseURL, apiKey, keyEnv, vendor };
}

function _trim(url: string): string {
  return url.replace(/\/+$/, "");
}
