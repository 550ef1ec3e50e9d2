import { MemoryStore } from "./memory_store.ts";
import { runStoreContract } from "../testing/store_contract.ts";

runStoreContract("memory", () => Promise.resolve(new MemoryStore()));
