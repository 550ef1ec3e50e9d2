/**
 * The test harness, outside the public door: the contract suites every
 * `Store` and `FilesystemProvider` implementation runs, and a store that
 * "crashes" at a chosen batch so that a test can land a crash between two
 * commits without killing a process.
 *
 * @example
 * ```ts
 * import { CrashableStore } from "./mod.ts";
 * import { MemoryStore } from "../mod.ts";
 * const store = new CrashableStore(new MemoryStore());
 * store.crashAt((batch) => batch.some((m) => m.kind === "journal.append") ? "after" : null);
 * ```
 *
 * @module
 */
export { CrashableStore, type CrashPoint } from "./crashable_store.ts";
export { runFilesystemContract } from "./fs_contract.ts";
export { runStoreContract } from "./store_contract.ts";
