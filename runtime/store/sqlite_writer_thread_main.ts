/**
 * The writer thread's side (`sqlite_writer_thread.ts`): a connection of its
 * own to the store's database that commits the groups it is sent, one
 * transaction each, in the order they came, and answers each with its
 * batches' errors. It only writes what the kernel encoded; it reads nothing
 * for anyone.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { DatabaseSync } from "node:sqlite";
import { LibosError } from "../errors.ts";
import { commitGroup, connectionPragmas, prepareWrites, writeMessage } from "./sqlite_writes.ts";
import type { EncodedMutation } from "./store_encoding.ts";
import type { ThreadAnswer, ThreadRequest } from "./sqlite_writer_thread.ts";

const port = parentPort!;
const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };

function answer(message: ThreadAnswer): void {
  port.postMessage(message);
}

let db: DatabaseSync | null = null;
try {
  db = new DatabaseSync(path);
  connectionPragmas(db, busyTimeoutMs);
  const s = prepareWrites(db);
  const open = db;
  port.on("message", (request: ThreadRequest) => {
    if (request.kind === "close") {
      // The kernel's thread ends this thread when it has the answer.
      open.close();
      answer({ kind: "closed" });
      return;
    }
    const out = commitGroup(open, s, path, request.batches as EncodedMutation[][]);
    answer({
      kind: "committed",
      id: request.id,
      transactions: out.transactions,
      errors: out.errors.map((e) => e === null ? null : _plain(e)),
    });
  });
  answer({ kind: "ready" });
} catch (error) {
  db?.close();
  answer({ kind: "failed", message: writeMessage(error) });
}

function _plain(error: LibosError) {
  return { code: error.code, message: error.message, fields: error.fields };
}
