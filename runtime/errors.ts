/**
 * The kernel's domain errors. Every error that crosses a public boundary (the
 * library API, a tool result, the sandbox protocol, the HTTP API) carries a
 * stable literal `code`; messages follow one grammar: "Cannot <verb> '<target>':
 * <reason>".
 *
 * @module
 */

/** The stable error codes of Agent libOS. */
export const ERROR_CODES = [
  "EPERM", // a capability check refused the action
  "ENOENT", // the target does not exist
  "EEXIST", // the target exists already (a name taken in a namespace)
  "EBUSY", // the target is held by another owner (a data directory by another kernel)
  "EINVAL", // malformed input: a bad image, a bad grant, arguments failing a schema
  "ESTATE", // an illegal lifecycle transition
  "EBUDGET", // a process budget (steps, tool calls, tokens, wall time, children) is spent
  "EQUOTA", // a size quota is exceeded
  "ELIMIT", // a runtime limit (message size, syscall count) is exceeded
  "ETIMEDOUT", // a deadline passed
  "ENOMEM", // an isolate ran out of memory
  "EWAITING", // the action waits for a human, a child or a timer
  "ENONDET", // a replayed call diverged from its journal
  "EDENIED", // a human denied the action
  "EEXPIRED", // a human request expired before it was answered
  "ESTALE", // an answer names a preview other than the one the request shows
  "ECANCELED", // the process was cancelled while the action ran
  "EUNKNOWN", // the outcome of an interrupted effect is not known
  "ETOOL", // a tool failed in its own code
  "EINTERNAL", // a kernel bug: never expected
  "EFENCED", // a kernel's lease was lost: the store refused its write (docs/cluster.md)
] as const;

/** One of {@linkcode ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Structured fields an error may carry (all optional). */
export interface ErrorFields {
  pid?: string;
  resource?: string;
  right?: string;
  path?: string;
  field?: string;
  file?: string;
  line?: number;
  column?: number;
  [key: string]: unknown;
}

/** Options of {@linkcode LibosError}. */
export interface LibosErrorOptions {
  /** Structured fields naming what failed (`pid`, `resource`, `right`, …). */
  fields?: ErrorFields;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The one error class of the kernel: a code, a message, structured fields. */
export class LibosError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Structured fields. */
  readonly fields: ErrorFields;

  constructor(code: ErrorCode, message: string, options: LibosErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LibosError";
    this.code = code;
    this.fields = options.fields ?? {};
  }

  /** The plain-data form that crosses every boundary. */
  toData(): ErrorData {
    return { code: this.code, message: this.message };
  }
}

/** An error as plain data. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
}

/** Builds a {@linkcode LibosError}; a terse helper for kernel code. */
export function libosError(
  code: ErrorCode,
  message: string,
  fields?: ErrorFields,
  cause?: unknown,
): LibosError {
  const options: LibosErrorOptions = {};
  if (fields !== undefined) options.fields = fields;
  if (cause !== undefined) options.cause = cause;
  return new LibosError(code, message, options);
}

/** Converts anything thrown into error data, never leaking a stack. */
export function toErrorData(error: unknown): ErrorData {
  if (error instanceof LibosError) return error.toData();
  if (error instanceof TypeError || error instanceof RangeError) {
    return { code: "EINVAL", message: error.message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "EINTERNAL", message };
}

/** True when `error` is a {@linkcode LibosError} with the given code. */
export function hasCode(error: unknown, code: ErrorCode): error is LibosError {
  return error instanceof LibosError && error.code === code;
}
