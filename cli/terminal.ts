/**
 * What the CLI prints: lines and tables whose values are escaped to one line
 * each (a value may come from a process, an image, a model, a human or a
 * remote API), errors as lines, and human requests.
 *
 * @module
 */
import { bodyText, escapePreview, type HumanRequest, LibosError } from "../mod.ts";

/** Prints rows as aligned columns (the first row is the header), each cell escaped. */
export function table(raw: string[][]): void {
  const rows = raw.map((r) => r.map((cell) => field(cell)));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) {
    console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
}

/**
 * A line for the terminal: the template's own text as written, each value
 * escaped to one line, since a value may come from a process, an image, a
 * model, a human or a remote API (see {@linkcode escapePreview}).
 */
export function safeLine(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += field(values[i]) + strings[i + 1]!;
  return out;
}

/** One printed field: escaped, one line. */
export function field(value: unknown): string {
  return escapePreview(typeof value === "string" ? value : String(value), { oneLine: true });
}

/**
 * An error as terminal lines, each escaped: an image's issues one a line
 * (`file:line:column field: message`), any other error its message.
 */
export function errorLines(error: unknown): string[] {
  if (error instanceof LibosError && Array.isArray(error.fields["issues"])) {
    const file = error.fields.file ?? "";
    return (error.fields["issues"] as _Issue[]).map((i) =>
      i.line === undefined
        ? safeLine`${file}: ${i.field}: ${i.message}`
        : safeLine`${file}:${i.line}:${i.column ?? 1} ${i.field}: ${i.message}`
    );
  }
  return [field(error instanceof Error ? error.message : String(error))];
}

/** An image issue as `LibosError.fields.issues` holds it. */
interface _Issue {
  field: string;
  message: string;
  line?: number;
  column?: number;
}

/**
 * A pending human request. Its preview keeps its lines, each one behind a
 * margin, so no line of it can pass for a line of the kernel's own.
 */
export function printRequest(r: HumanRequest): void {
  const preview = escapePreview(bodyText(r.preview)).split("\n").map((l) => `  │ ${l}`);
  const answer = r.kind === "outcome"
    ? safeLine`happened ${r.id} [JSON] | retry ${r.id} | fail ${r.id}`
    : r.kind === "question"
    ? safeLine`answer ${r.id} <text> | deny ${r.id}`
    : safeLine`approve ${r.id} | deny ${r.id}`;
  console.log(
    ["", safeLine`[human] ${r.id} (${r.kind}) from ${r.pid}:`, ...preview].join("\n") +
      `\n  answer with: ${answer}\n`,
  );
}
