/**
 * Redaction of secrets (model API keys) from text that may leave a provider:
 * error messages, which the kernel writes into the journal, the audit log,
 * process records and events.
 *
 * @module
 */

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/** Secrets shorter than this are not redacted: they would mangle ordinary words. */
const _MIN_SECRET = 8;

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`. A
 * secret is also caught in its URL-encoded and JSON-escaped forms, and a
 * long one by its first and last 16 characters (a server that echoes a key
 * cut in the middle still does not leak either end).
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < _MIN_SECRET) continue;
    const forms = new Set([
      secret,
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
    ]);
    if (secret.length >= 40) {
      forms.add(secret.slice(0, 16));
      forms.add(secret.slice(-16));
    }
    for (const form of forms) out = out.split(form).join(REDACTED);
  }
  return out;
}
