/**
 * A PostgreSQL store's URL: `postgres://user[:password]@host[:port]/db`, with
 * this project's own `?schema=NAME`; its password never shown.
 *
 * @module
 */

/** The schema a store uses when neither its URL nor its options name one. */
export const POSTGRES_DEFAULT_SCHEMA = "libos";

/** What a store URL names. */
export interface PostgresTarget {
  /** The URL handed to postgres.js (the `schema` parameter taken out). */
  url: string;
  /** The URL as messages show it: the password replaced by `***`. */
  shown: string;
  schema: string;
}

/**
 * Reads a store URL: its scheme, its `schema` parameter (or `schemaOption`);
 * a `TypeError` names what is wrong, the password hidden.
 */
export function parsePostgresUrl(text: string, schemaOption: string | undefined): PostgresTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(
      `Cannot open a PostgreSQL store: expected a URL like postgres://user@host:5432/db, got '${
        hideUrlPassword(text)
      }'`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new TypeError(
      `Cannot open a PostgreSQL store: expected a postgres:// or postgresql:// URL, got '${url.protocol}'`,
    );
  }
  if (url.searchParams.has("search_path") || url.searchParams.has("options")) {
    throw new TypeError(
      "Cannot open a PostgreSQL store: name its schema with ?schema=NAME, not search_path or options",
    );
  }
  const schema = schemaOption ?? url.searchParams.get("schema") ?? POSTGRES_DEFAULT_SCHEMA;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(
      `Cannot open a PostgreSQL store: schema must be a lowercase identifier ([a-z_][a-z0-9_]*, at most 63 characters), got '${schema}'`,
    );
  }
  url.searchParams.delete("schema");
  const shown = new URL(url.href);
  if (shown.password !== "") shown.password = "***";
  shown.searchParams.set("schema", schema);
  return { url: url.href, shown: shown.href, schema };
}

/** A store URL as messages show it: its password (between `:` and `@`) as `***`. */
export function hideUrlPassword(text: string): string {
  return text.replace(/(\/\/[^/:@]*:)[^@/]*@/, "$1***@");
}
