import assert from "node:assert/strict";
import { Hono } from "hono";
import { onError, statusOfCode } from "./http_errors.ts";
import type { ErrorCode } from "../runtime/mod.ts";

Deno.test("kernel error codes map to HTTP statuses in one table; unexpected codes are 500", () => {
  const codes: ErrorCode[] = [
    "EINVAL",
    "EPERM",
    "ENOENT",
    "ESTATE",
    "EEXIST",
    "EEXPIRED",
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
      EEXPIRED: 409,
      EQUOTA: 422,
      ELIMIT: 422,
      EBUDGET: 422,
      ETIMEDOUT: 504,
      EINTERNAL: 500,
      ENONDET: 500,
    },
  );
});

Deno.test("an internal TypeError is a 500 whose body carries none of its text", async () => {
  const app = new Hono();
  app.onError(onError);
  app.get("/boom", () => {
    throw new TypeError("Cannot read properties of undefined (reading 'secretField')");
  });
  const quiet = console.error;
  console.error = () => {};
  try {
    const res = await app.request("/boom");
    assert.equal(res.status, 500);
    const body = await res.text();
    assert.doesNotMatch(body, /secretField|properties/);
    assert.deepEqual(JSON.parse(body), { error: { code: "EINTERNAL", message: "Internal error" } });
  } finally {
    console.error = quiet;
  }
});
