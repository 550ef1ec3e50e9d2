/**
 * Escaped previews: text that a human approves (DESIGN §2, "Human queue") or
 * that a terminal prints must show what it says and nothing else. A hostile
 * file or tool argument could otherwise recolor or rewrite the screen (ANSI
 * escape sequences), hide a link target (OSC 8), reorder what is read
 * (bidirectional overrides) or hide text altogether (zero-width and tag
 * characters).
 *
 * @module
 */
import { sha256Hex } from "../audit/canonical_json.ts";

/** Options of {@linkcode escapePreview}. */
export interface EscapePreviewOptions {
  /**
   * The most characters (code points) of the result before the cut note; an
   * escape is never split. Default: 2000.
   */
  max?: number;
  /**
   * Whether the result must be one line, for a field the terminal prints
   * within a line of its own (a reason, a result, a name, an error message):
   * then `\n` and `\t` become escapes too, so no text can start a line that
   * looks like the kernel's own. Default: false (a preview keeps its lines).
   */
  oneLine?: boolean;
}

/**
 * Makes `text` safe to show to a human: every character that acts instead of
 * showing becomes a visible `\u{…}` escape (lowercase hex code point). It is
 * the one escaper of every sink that shows text a process, an image, a model,
 * a human or a remote API controls: human-request previews, the CLI's
 * terminal output (with `oneLine`) and log lines.
 *
 * - A terminal escape sequence — CSI (`ESC [` or U+009B, to its final byte),
 *   OSC, DCS, SOS, PM, APC (to BEL or ST) and other `ESC` sequences — is
 *   removed whole and replaced by one escape of its introducer (`\u{1b}`,
 *   `\u{9b}`, …). A string sequence without its terminator is not removed:
 *   only its introducer is escaped, so nothing after it is hidden.
 * - Other C0 and C1 controls and DEL become escapes; `\n` and `\t` stay,
 *   unless `oneLine` is set.
 * - Bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
 *   U+2066–U+2069), zero-width and invisible characters (U+200B–U+200D,
 *   U+2060–U+2064, U+FEFF, U+180E), line and paragraph separators (U+2028,
 *   U+2029) and tag characters (U+E0000–U+E007F) become escapes.
 * - A lone surrogate becomes an escape of its code unit.
 *
 * A result longer than `max` is cut, and the note `… [cut N characters]`
 * says how many characters of `text` are not shown. A backslash is kept as
 * it is: the preview is for reading, not for decoding back.
 *
 * @example
 * ```ts
 * escapePreview("ok\x1b[31m red\u202e"); // "ok\\u{1b} red\\u{202e}"
 * escapePreview("a\r\nb", { oneLine: true }); // "a\\u{d}\\u{a}b"
 * ```
 */
export function escapePreview(text: string, options: EscapePreviewOptions = {}): string {
  const max = options.max ?? 2000;
  const oneLine = options.oneLine ?? false;
  if (!(Number.isSafeInteger(max) && max >= 0)) {
    throw new RangeError(`Cannot escape a preview to ${max} characters: expected an integer ≥ 0`);
  }
  let out = "";
  let shown = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i)!;
    let piece: string;
    let next: number;
    let width = 1;
    if (code === _ESC || _C1_INTRODUCERS.has(code)) {
      next = code === _ESC ? _escapeSequenceEnd(text, i) : _c1SequenceEnd(text, i);
      piece = _escape(code);
      width = piece.length;
    } else if (_isHidden(code) || (oneLine && (code === 0x0a || code === 0x09))) {
      next = i + (code > 0xffff ? 2 : 1);
      piece = _escape(code);
      width = piece.length;
    } else {
      next = i + (code > 0xffff ? 2 : 1);
      piece = code > 0xffff ? text.slice(i, next) : text[i]!;
    }
    if (shown + width > max) break;
    out += piece;
    shown += width;
    i = next;
  }
  if (i < text.length) {
    const cut = _countCodePoints(text, i);
    out += `… [cut ${cut} ${cut === 1 ? "character" : "characters"}]`;
  }
  return out;
}

const _ESC = 0x1b;
const _BEL = 0x07;
const _ST = 0x9c;
const _CSI = 0x9b;
/** C1 controls that open a sequence: DCS, SOS, CSI, OSC, PM, APC. */
const _C1_INTRODUCERS = new Set([0x90, 0x98, 0x9b, 0x9d, 0x9e, 0x9f]);
/** After ESC, the characters that open a string sequence: DCS, SOS, OSC, PM, APC. */
const _STRING_OPENERS = new Set(["P", "X", "]", "^", "_"]);

function _escape(code: number): string {
  return `\\u{${code.toString(16)}}`;
}

/** Whether a character acts or hides instead of showing itself. */
function _isHidden(code: number): boolean {
  if (code < 0x20) return code !== 0x0a && code !== 0x09;
  if (code < 0x7f) return false;
  if (code <= 0x9f) return true; // DEL and the C1 controls
  if (code < 0x061c) return false;
  return code === 0x061c || code === 0x180e ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2060 && code <= 0x2064) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0xfeff ||
    (code >= 0xd800 && code <= 0xdfff) || // a lone surrogate (codePointAt pairs the others)
    (code >= 0xe0000 && code <= 0xe007f);
}

/** The end of the sequence that the ESC at `start` opens (just past the ESC if none). */
function _escapeSequenceEnd(text: string, start: number): number {
  const opener = text[start + 1];
  if (opener === undefined) return start + 1;
  if (opener === "[") return _csiEnd(text, start + 2);
  if (_STRING_OPENERS.has(opener)) return _stringSequenceEnd(text, start + 2) ?? start + 1;
  // nF/Fp/Fe/Fs sequences: intermediate bytes 0x20–0x2f, then a final byte 0x30–0x7e.
  let i = start + 1;
  while (i < text.length && _between(text.charCodeAt(i), 0x20, 0x2f)) i++;
  return i < text.length && _between(text.charCodeAt(i), 0x30, 0x7e) ? i + 1 : start + 1;
}

/** The end of the sequence that the C1 control at `start` opens. */
function _c1SequenceEnd(text: string, start: number): number {
  if (text.charCodeAt(start) === _CSI) return _csiEnd(text, start + 1);
  return _stringSequenceEnd(text, start + 1) ?? start + 1;
}

/**
 * A CSI's parameters (0x30–0x3f) and intermediates (0x20–0x2f) up to its
 * final byte (0x40–0x7e). A CSI cut short ends where its bytes stop.
 */
function _csiEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && _between(text.charCodeAt(i), 0x30, 0x3f)) i++;
  while (i < text.length && _between(text.charCodeAt(i), 0x20, 0x2f)) i++;
  return i < text.length && _between(text.charCodeAt(i), 0x40, 0x7e) ? i + 1 : i;
}

/**
 * A string sequence (OSC, DCS, …) runs to BEL, ST (U+009C) or `ESC \`; another
 * ESC aborts it there, as terminals do. Without a terminator: undefined.
 */
function _stringSequenceEnd(text: string, from: number): number | undefined {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === _BEL || code === _ST) return i + 1;
    if (code === _ESC) return text[i + 1] === "\\" ? i + 2 : i;
  }
  return undefined;
}

function _between(code: number, low: number, high: number): boolean {
  return code >= low && code <= high;
}

function _countCodePoints(text: string, from: number): number {
  let count = 0;
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/**
 * The digest an answer must send back: sha-256 (hex) of the preview as shown
 * and the hash of the action it is bound to (empty for a question).
 */
export function previewDigest(r: { preview: string; actionHash: string | null }): string {
  return sha256Hex(`${r.preview}\u0000${r.actionHash ?? ""}`);
}

/** An error (or anything thrown) as text for a log line: name, message and stack. */
export function errorText(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}\n${error.stack ?? ""}`
    : String(error);
}

/**
 * A log line from text that may carry process-controlled parts: each line
 * escaped (no terminal or bidi escapes, no raw controls), kept as lines.
 */
export function logLine(text: string): string {
  return text.split("\n").map((line) => escapePreview(line, { oneLine: true, max: 4000 })).join(
    "\n  ",
  );
}
