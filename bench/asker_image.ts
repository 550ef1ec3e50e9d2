import type { AgentImageInput } from "../mod.ts";

/** The image of the RSS benchmarks: one write that asks a human first, so the process waits. */
export const ASKER_IMAGE: AgentImageInput = {
  id: "asker",
  name: "asker",
  version: "1",
  tools: ["*"],
  model: {
    provider: "scripted",
    steps: [{ tool: "write_text_file", args: { path: "out/x.txt", text: "x" } }],
  },
  capabilities: [{ resource: "fs:out/**", rights: ["write"], effect: "ask" }],
};
