// deno-lint-ignore-file no-control-regex -- the tests look for control characters on purpose
import assert from "node:assert/strict";
import { escapePreview } from "./preview.ts";

Deno.test("escapePreview() keeps ordinary text, newlines, tabs and non-Latin scripts", () => {
  const text = "line 1\n\tindented — café, 東京, مرحبا, 😀, e\u0301, a\\u{1b}";
  assert.equal(escapePreview(text), text);
  assert.equal(escapePreview(""), "");
});

Deno.test("escapePreview() makes C0 controls, DEL and C1 controls visible", () => {
  assert.equal(
    escapePreview("a\x00b\x07c\bd\re\x7ff\x85g\x9ch"),
    "a\\u{0}b\\u{7}c\\u{8}d\\u{d}e\\u{7f}f\\u{85}g\\u{9c}h",
  );
});

Deno.test("escapePreview() removes a CSI sequence whole, leaving one visible escape", () => {
  assert.equal(escapePreview("a\x1b[31mred\x1b[0m b"), "a\\u{1b}red\\u{1b} b");
  assert.equal(
    escapePreview("\x1b[2J\x1b[H\x1b[?25lhidden cursor"),
    "\\u{1b}\\u{1b}\\u{1b}hidden cursor",
  );
  assert.equal(escapePreview("\x1b[1;38;5;196mx"), "\\u{1b}x");
  // A CSI cut short ends where its bytes stop; the text after it stays.
  assert.equal(escapePreview("\x1b[12\nnext"), "\\u{1b}\nnext");
});

Deno.test("escapePreview() removes the 8-bit CSI (U+009B) sequence whole", () => {
  assert.equal(escapePreview("a\x9b31mred\x9b0m"), "a\\u{9b}red\\u{9b}");
});

Deno.test("escapePreview() removes an OSC 8 hyperlink's hidden target, ended by BEL or ST", () => {
  assert.equal(
    escapePreview("see \x1b]8;;http://evil.example/\x07docs\x1b]8;;\x07 now"),
    "see \\u{1b}docs\\u{1b} now",
  );
  assert.equal(
    escapePreview("\x1b]8;;http://evil.example/\x1b\\docs\x1b]8;;\x1b\\"),
    "\\u{1b}docs\\u{1b}",
  );
  assert.equal(escapePreview("\x9d8;;http://evil.example/\x9cdocs"), "\\u{9d}docs");
});

Deno.test("escapePreview() removes a window-title OSC and a DCS string", () => {
  assert.equal(escapePreview("\x1b]0;pwned\x07ok"), "\\u{1b}ok");
  assert.equal(escapePreview("\x1bPq#0;2;0;0;0#0~~\x1b\\ok"), "\\u{1b}ok");
  assert.equal(escapePreview("\x1b_app\x1b\\\x1b^pm\x07\x1bXsos\x07ok"), "\\u{1b}\\u{1b}\\u{1b}ok");
});

Deno.test("escapePreview() hides nothing after an unterminated string sequence", () => {
  assert.equal(
    escapePreview("\x1b]0;title rm -rf / and the rest"),
    "\\u{1b}]0;title rm -rf / and the rest",
  );
  assert.equal(escapePreview("\x9d0;tail"), "\\u{9d}0;tail");
});

Deno.test("escapePreview() ends an OSC at another ESC, as terminals do", () => {
  assert.equal(escapePreview("\x1b]0;t\x1b[31mred"), "\\u{1b}\\u{1b}red");
});

Deno.test("escapePreview() removes other ESC sequences and shows a lone ESC", () => {
  assert.equal(escapePreview("\x1bcreset"), "\\u{1b}reset");
  assert.equal(escapePreview("\x1b(Bascii"), "\\u{1b}ascii");
  assert.equal(escapePreview("\x1b7saved\x1b8"), "\\u{1b}saved\\u{1b}");
  assert.equal(escapePreview("end\x1b"), "end\\u{1b}");
  assert.equal(escapePreview("\x1b\n"), "\\u{1b}\n");
});

Deno.test("escapePreview() makes every bidirectional control visible", () => {
  const bidi = [
    0x061c,
    0x200e,
    0x200f,
    0x202a,
    0x202b,
    0x202c,
    0x202d,
    0x202e,
    0x2066,
    0x2067,
    0x2068,
    0x2069,
  ];
  for (const code of bidi) {
    assert.equal(escapePreview(`a${String.fromCodePoint(code)}b`), `a\\u{${code.toString(16)}}b`);
  }
  // The classic "Trojan Source" trick: the file reads "txt.exe" but displays "exe.txt".
  assert.equal(escapePreview("invoice\u202etxt.exe"), "invoice\\u{202e}txt.exe");
});

Deno.test("escapePreview() makes zero-width and invisible characters visible", () => {
  assert.equal(
    escapePreview("a\u200bb\u200cc\u200dd\ufeffe\u2060f\u2028g\u2029h"),
    "a\\u{200b}b\\u{200c}c\\u{200d}d\\u{feff}e\\u{2060}f\\u{2028}g\\u{2029}h",
  );
  // Tag characters smuggle invisible ASCII ("hi" here).
  assert.equal(escapePreview("x\u{e0068}\u{e0069}"), "x\\u{e0068}\\u{e0069}");
});

Deno.test("escapePreview() replaces lone surrogates and keeps proper pairs", () => {
  assert.equal(escapePreview("a\ud800b"), "a\\u{d800}b");
  assert.equal(escapePreview("a\udc00"), "a\\u{dc00}");
  assert.equal(escapePreview("\udc00\ud800"), "\\u{dc00}\\u{d800}");
  assert.equal(escapePreview("\ud83d\ude00"), "😀");
});

Deno.test("escapePreview() cuts at 2000 characters by default and says how many were cut", () => {
  const text = "a".repeat(2500);
  assert.equal(escapePreview(text), "a".repeat(2000) + "… [cut 500 characters]");
  assert.equal(escapePreview("a".repeat(2000)), "a".repeat(2000));
});

Deno.test("escapePreview() cuts at `max` characters without splitting an escape or a pair", () => {
  assert.equal(escapePreview("hello world", { max: 5 }), "hello… [cut 6 characters]");
  assert.equal(escapePreview("ab\x00", { max: 4 }), "ab… [cut 1 character]");
  assert.equal(escapePreview("ab\x00", { max: 8 }), "ab\\u{0}");
  assert.equal(escapePreview("😀😀😀", { max: 2 }), "😀😀… [cut 1 character]");
  assert.equal(escapePreview("xyz", { max: 0 }), "… [cut 3 characters]");
  // The count is of the input not shown, a removed sequence counted in full.
  assert.equal(escapePreview("a\x1b[31mb", { max: 1 }), "a… [cut 6 characters]");
});

Deno.test("escapePreview() refuses a negative or fractional max", () => {
  assert.throws(() => escapePreview("x", { max: -1 }), RangeError);
  assert.throws(() => escapePreview("x", { max: 1.5 }), RangeError);
});

Deno.test("escapePreview() output never holds a hidden character, whatever the input", () => {
  // The characters a preview must never hold.
  const hidden =
    /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u{e0000}-\u{e007f}]/u;
  const alphabet = [
    "a",
    " ",
    "\n",
    "\t",
    "[",
    "]",
    ";",
    "\\",
    "m",
    "0",
    "\x07",
    "\x1b",
    "\x9b",
    "\x9c",
    "\x9d",
    "\x90",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udc00",
    "😀",
    "\u{e0041}",
    "\r",
  ];
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 2000; round++) {
    let text = "";
    const length = Math.floor(random() * 40);
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
    const preview = escapePreview(text, { max: 30 });
    assert.equal(hidden.test(preview), false, JSON.stringify(text));
    assert.equal(preview.isWellFormed(), true, JSON.stringify(text));
  }
});

Deno.test("escapePreview() with oneLine makes LF, CR and tab visible, so no text starts a line", () => {
  assert.equal(
    escapePreview("boom\r\nh_1 approved\tnow", { oneLine: true }),
    "boom\\u{d}\\u{a}h_1 approved\\u{9}now",
  );
  // Without oneLine a preview keeps its lines and tabs; CR is escaped either way.
  assert.equal(escapePreview("a\r\n\tb"), "a\\u{d}\n\tb");
  // A CSI cut short by a newline ends there, and the newline is escaped too.
  assert.equal(escapePreview("\x1b[12\nh_1", { oneLine: true }), "\\u{1b}\\u{a}h_1");
  assert.equal(escapePreview("\x1b\n", { oneLine: true }), "\\u{1b}\\u{a}");
});

Deno.test("escapePreview() with oneLine escapes every acting character a red team put in a field", () => {
  const hostile = "x\x1b[31mred\x1b]0;title\x07\r\nh_1 approved\u202e\u2066\u2067\u2068\u2069\x00y";
  const shown = escapePreview(hostile, { oneLine: true });
  assert.equal(
    shown,
    "x\\u{1b}red\\u{1b}\\u{d}\\u{a}h_1 approved\\u{202e}\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{0}y",
  );
  assert.doesNotMatch(shown, /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u);
  // Escaping twice changes nothing: a printed field may pass through two sinks.
  assert.equal(escapePreview(shown, { oneLine: true }), shown);
});

Deno.test("escapePreview() with oneLine counts a newline escape against max like any other", () => {
  assert.equal(escapePreview("ab\ncd", { max: 6, oneLine: true }), "ab… [cut 3 characters]");
  assert.equal(escapePreview("ab\ncd", { max: 7, oneLine: true }), "ab\\u{a}… [cut 2 characters]");
});

Deno.test("escapePreview() with oneLine never holds a line break or hidden character, whatever the input", () => {
  const alphabet = ["a", "\n", "\r", "\t", "\x1b", "[", "]", "\x07", "\u2028", "\u202e", "\x00"];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 1000; round++) {
    let text = "";
    const length = Math.floor(random() * 30);
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
    const shown = escapePreview(text, { oneLine: true });
    assert.doesNotMatch(
      shown,
      /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/u,
      JSON.stringify(text),
    );
  }
});
