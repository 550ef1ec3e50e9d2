import { defineTool, z } from "libos/tool";

const LogPayload = z.union([
  z.object({ lines: z.array(z.string()) }),
  z.object({ text: z.string() }),
]);

/** Counts the ok and FAIL lines of a `log` object, and lists the failures. */
export default defineTool({
  name: "parse_log",
  description:
    "Count the ok and FAIL lines of a log object (type 'log': {lines} or {text}) and list the failing lines",
  input: z.object({ ref: z.string().min(1).describe("the log object: an oid, ns/name or a name") }),
  output: z.object({
    ok: z.number().int().nonnegative(),
    fail: z.number().int().nonnegative(),
    other: z.number().int().nonnegative(),
    failures: z.array(z.string()).describe("the FAIL lines, at most 20"),
  }),
  async run({ ref }, sys) {
    const object = await sys.obj.read(ref);
    if (object.type !== "log") {
      throw new TypeError(`object '${ref}' is a '${object.type}', not a 'log'`);
    }
    const payload = LogPayload.parse(object.payload);
    const lines = "lines" in payload ? payload.lines : payload.text.split("\n");
    let ok = 0;
    let other = 0;
    const failures: string[] = [];
    for (const line of lines) {
      if (/\bFAIL\b/.test(line)) failures.push(line);
      else if (/\bok\b/i.test(line)) ok += 1;
      else if (line.trim() !== "") other += 1;
    }
    return { ok, fail: failures.length, other, failures: failures.slice(0, 20) };
  },
});
