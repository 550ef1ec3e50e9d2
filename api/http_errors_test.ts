import assert from "node:assert/strict";
import { statusOfCode } from "./http_errors.ts";
import type { ErrorCode } from "../runtime/mod.ts";

Deno.test("kernel error codes map to HTTP statuses in one table; unexpected codes are 500", () => {
  const codes: ErrorCode[] = [
    "EINVAL",
    "EPERM",
    "ENOENT",
    "ESTATE",
    "EEXIST",
    "EQUOTA",
    "ELIMIT",
    "EBUDGET",
    "ETIMEDOUT",
    "EINTERNAL",
    "ENONDET",
  ];
  assert.deepEqual(
    Object.fromEntries(codes.map((c) => [c, statusOfCode(c)])),
    {
      EINVAL: 400,
      EPERM: 403,
      ENOENT: 404,
      ESTATE: 409,
      EEXIST: 409,
      EQUOTA: 422,
      ELIMIT: 422,
      EBUDGET: 422,
      ETIMEDOUT: 500,
      EINTERNAL: 500,
      ENONDET: 500,
    },
  );
});
