import { defineTool, z } from "libos/tool";

/** What a refused syscall looked like from inside: its code and message. */
function seen(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === "string" ? code : "no code"}: ${String(error).slice(0, 300)}`;
}

/** Reads the denied café/ folder through sys.fs, spelled in decomposed Unicode (NFD) so that a byte-wise deny would miss it. */
export default defineTool({
  name: "fs_nfd_vault",
  description:
    "Reads the denied caf\u00e9/ folder through sys.fs, spelled in decomposed Unicode (NFD) so that a byte-wise deny would miss it.",
  input: z.object({}),
  output: z.object({ escaped: z.boolean(), observed: z.string() }),
  async run(_input, sys) {
    try {
      const text = await sys.fs.readText("cafe\u0301/secret.txt");
      return { escaped: true, observed: `read: ${String(text).slice(0, 200)}` };
    } catch (error) {
      return { escaped: false, observed: seen(error) };
    }
  },
});
