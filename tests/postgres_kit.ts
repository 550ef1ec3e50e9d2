/**
 * Tests on the machine's PostgreSQL: each in a temporary directory and a
 * fresh schema, both removed afterwards; skipped with a printed reason when
 * there is no server (unless LIBOS_REQUIRE_POSTGRES=1).
 */
import { withTemp } from "./cli_kit.ts";
import {
  dropTestSchema,
  freshSchemaName,
  skipPostgres,
  testPostgresUrl,
} from "../runtime/testing/postgres_testing.ts";

const ignore = await skipPostgres();

/** A test given a temporary directory (named with `prefix`) and the URL of a fresh schema. */
export function postgresTest(
  name: string,
  prefix: string,
  fn: (dir: string, url: string) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const schema = freshSchemaName();
      try {
        await withTemp(prefix, (dir) => fn(dir, testPostgresUrl(schema)));
      } finally {
        await dropTestSchema(schema);
      }
    },
  });
}
