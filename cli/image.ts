/**
 * `libos image check`: validates image files.
 *
 * @module
 */
import { loadImageFile } from "../mod.ts";
import { errorLines, safeLine } from "./terminal.ts";

/** `libos image check F…`; resolves to the exit status. */
export async function image(args: string[]): Promise<number> {
  const [verb, ...files] = args;
  if (verb !== "check" || files.length === 0) {
    console.error("usage: libos image check F...");
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    try {
      const img = await loadImageFile(f);
      console.log(
        safeLine`${f}: ok (${img.id}@${img.version}, ${img.tools.length} tools, ${img.capabilities.length} grants)`,
      );
    } catch (error) {
      bad++;
      for (const l of errorLines(error)) console.log(l);
    }
  }
  return bad === 0 ? 0 : 1;
}
