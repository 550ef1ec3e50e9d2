/**
 * How a failed model call is judged and reported, the same way for every SDK:
 * which failures are worth a retry, and the typed, key-free error the kernel
 * sees ("Cannot call model 'openai/gpt-4o-mini': HTTP 429 …").
 *
 * @module
 */
import { type ErrorCode, LibosError, libosError } from "../errors.ts";
import {
  AttemptTimedOut,
  RetriesExhausted,
  retryAfterMs,
  type RetryOptions,
  type RetryVerdict,
  withAttemptDeadline,
  withRetries,
} from "./model_retry.ts";
import { redactSecrets } from "./secret_redaction.ts";

/** The error classes an official SDK exposes (both the `openai` and the Anthropic SDK do). */
export interface SdkErrorClasses {
  // deno-lint-ignore no-explicit-any
  APIError: abstract new (...args: any[]) => Error & { status?: number; headers?: Headers };
  // deno-lint-ignore no-explicit-any
  APIUserAbortError: abstract new (...args: any[]) => Error;
  // deno-lint-ignore no-explicit-any
  APIConnectionTimeoutError: abstract new (...args: any[]) => Error;
}

/** A failure sorted into what decides retrying and the error code. */
export type ModelFailure =
  | { kind: "aborted" }
  | { kind: "timeout" }
  | { kind: "connection" }
  | { kind: "http"; status: number; headers: Headers | undefined }
  | { kind: "other" };

/** Sorts an error thrown by an SDK call. */
export function modelFailure(error: unknown, sdk: SdkErrorClasses): ModelFailure {
  if (error instanceof AttemptTimedOut) return { kind: "timeout" };
  if (error instanceof sdk.APIConnectionTimeoutError) return { kind: "timeout" };
  if (error instanceof sdk.APIUserAbortError) return { kind: "aborted" };
  if (error instanceof sdk.APIError) {
    const e = error as Error & { status?: number; headers?: Headers };
    if (typeof e.status === "number") return { kind: "http", status: e.status, headers: e.headers };
    return { kind: "connection" };
  }
  if (error instanceof DOMException && error.name === "AbortError") return { kind: "aborted" };
  return { kind: "other" };
}

/** Whether a failure is worth another attempt: 408, 409, 429, 5xx, connection, timeout. */
export function retryVerdict(failure: ModelFailure): RetryVerdict {
  switch (failure.kind) {
    case "timeout":
    case "connection":
      return { retry: true };
    case "http": {
      const s = failure.status;
      if (s === 408 || s === 409 || s === 429 || s >= 500) {
        const after = retryAfterMs(failure.headers);
        return after === undefined ? { retry: true } : { retry: true, afterMs: after };
      }
      return { retry: false };
    }
    case "aborted":
    case "other":
      return { retry: false };
  }
}

/** Options of {@linkcode modelCallError}. */
export interface ModelCallErrorOptions {
  /** The SDK's error classes. */
  sdk: SdkErrorClasses;
  /** Secrets to redact from the message (the API key in use). */
  secrets: readonly (string | undefined)[];
}

/**
 * The kernel-facing error for a failed call of `target` (`provider/model`):
 * a {@linkcode LibosError} whose message names the HTTP status and the attempts
 * made, with every secret redacted and no `cause` (an SDK error carries the
 * request's configuration, which a logger could print).
 */
export function modelCallError(
  target: string,
  error: unknown,
  options: ModelCallErrorOptions,
): LibosError {
  if (error instanceof LibosError) {
    return libosError(error.code, redactSecrets(error.message, options.secrets), error.fields);
  }
  let attempts = 1;
  let last = error;
  if (error instanceof RetriesExhausted) {
    attempts = error.attempts;
    last = error.last;
  }
  const failure = modelFailure(last, options.sdk);
  const detail = last instanceof Error ? last.message : String(last);
  const tries = attempts === 1 ? "" : ` after ${attempts} attempts`;
  let code: ErrorCode;
  let what: string;
  switch (failure.kind) {
    case "aborted":
      code = "ECANCELED";
      what = "the call was cancelled";
      break;
    case "timeout":
      code = "ETIMEDOUT";
      what = `the endpoint did not answer in time${tries}`;
      break;
    case "connection":
      code = "EUNKNOWN";
      what = `the endpoint could not be reached${tries}`;
      break;
    case "http":
      code = _codeOfStatus(failure.status);
      what = `HTTP ${failure.status}${tries}`;
      break;
    case "other":
      code = "EUNKNOWN";
      what = `the call failed${tries}`;
      break;
  }
  const message = `Cannot call model '${target}': ${what}: ${detail}`;
  return libosError(code, redactSecrets(message, options.secrets), { resource: `model:${target}` });
}

function _codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return "EPERM";
  if (status === 404 || status === 400 || status === 422 || status === 413) return "EINVAL";
  if (status === 429) return "ELIMIT";
  if (status === 408 || status === 504) return "ETIMEDOUT";
  return "EUNKNOWN";
}

/** What a provider's `prepare` step gives {@linkcode runModelCall}. */
export interface ModelCallPlan<T> {
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** Retries from the image's options (else the provider's, else 2). */
  maxRetries: number | undefined;
  /** One attempt of the call. */
  attempt(signal: AbortSignal): Promise<T>;
}

/**
 * Runs one model call the way every provider does: `prepare` (options,
 * endpoint, client), then attempts with a deadline each and retries with
 * backoff; any failure, `prepare`'s included, becomes a
 * {@linkcode modelCallError} with every secret redacted, or `ECANCELED` when
 * the caller's signal aborted.
 */
export async function runModelCall<T>(
  target: string,
  signal: AbortSignal,
  options: { sdk: SdkErrorClasses; retry: RetryOptions; secrets(): (string | undefined)[] },
  prepare: () => ModelCallPlan<T>,
): Promise<T> {
  try {
    const plan = prepare();
    return await withRetries(
      () => withAttemptDeadline(signal, plan.timeoutMs, plan.attempt),
      { signal, classify: (e) => retryVerdict(modelFailure(e, options.sdk)) },
      { ...options.retry, maxRetries: plan.maxRetries ?? options.retry.maxRetries ?? 2 },
    );
  } catch (error) {
    if (signal.aborted) {
      throw libosError("ECANCELED", `Cannot call model '${target}': the call was cancelled`, {
        resource: `model:${target}`,
      });
    }
    throw modelCallError(target, error, { sdk: options.sdk, secrets: options.secrets() });
  }
}
