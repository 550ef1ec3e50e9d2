/**
 * Loads agent images (DESIGN §2): JSONC text → a validated {@linkcode AgentImage}.
 *
 * Every refusal is a `LibosError` with code `EINVAL` whose message points at
 * the place in the file a person has to fix: file, line and column (1-based),
 * the field path and what was expected, one issue per line, the first issue on
 * the message's first line:
 *
 * ```text
 * Cannot load image 'examples/images/x.jsonc': 12:5 capabilities[0].rights: expected array, received string
 * 14:7 memory[1].name: duplicate seed object name 'plan' (first in memory[0])
 * ```
 *
 * Besides the zod schema, the loader checks what the schema alone cannot:
 * a grant's resource names a known kind (DESIGN §3), its rights are rights of
 * that kind, object keys are not repeated and seed-object names are unique.
 *
 * @module
 */
import {
  findNodeAtLocation,
  type Node as JsonNode,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { z } from "zod";
import { type ErrorFields, libosError } from "../errors.ts";
import { type AgentImage, AgentImageSchema, type ResourceKind, RIGHTS_BY_KIND } from "./schemas.ts";

/** A 1-based position in a text. */
export interface TextPosition {
  /** 1-based line. */
  line: number;
  /** 1-based column, in UTF-16 code units. */
  column: number;
}

/** One thing wrong with an image. */
export interface ImageIssue {
  /** The field path, e.g. `capabilities[0].rights`; `(root)` for the whole image. */
  field: string;
  /** What is wrong, e.g. `expected array, received string`. */
  message: string;
  /** Where, when the image came from text. */
  line?: number;
  column?: number;
}

/** Options of {@linkcode parseImage}. */
export interface ParseImageOptions {
  /** The file name the text came from, named in every error message. */
  file: string;
}

/** Options of {@linkcode validateImage}. */
export interface ValidateImageOptions {
  /** What the value came from, named in error messages (default `inline`). */
  source?: string;
}

/** Resource kinds that may be written without a pattern, e.g. `"proc"`. */
const BARE_KINDS: ReadonlySet<string> = new Set(["proc", "tool", "image", "checkpoint"]);

/** A located issue before it is rendered. */
interface _Located {
  field: string;
  message: string;
  offset: number | undefined;
}

/** Finds the offset a JSON path points at, or undefined when there is no text. */
type _Locate = (path: readonly PropertyKey[], how: _PointAt) => number | undefined;

/** What to point at: the value at the path, or the key of the property at it. */
type _PointAt = "value" | "key";

/**
 * Converts an offset of `text` to a 1-based line and column. A line ends at
 * `\n`, `\r\n` or a lone `\r`, as in jsonc-parser.
 */
export function lineColumn(text: string, offset: number): TextPosition {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0a || (code === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Parses and validates an image written as JSONC (comments and trailing
 * commas allowed). Throws `LibosError` `EINVAL` naming the file, line, column
 * and field of every issue; the error's `fields` hold the first issue's
 * `file`, `line`, `column` and `field`, and `issues` holds them all.
 */
export function parseImage(text: string, options: ParseImageOptions): AgentImage {
  return parseJsoncAs(text, AgentImageSchema, {
    file: options.file,
    noun: "image",
    semantic: _semanticIssues,
  });
}

/** Options of {@linkcode parseJsoncAs}. */
export interface ParseJsoncOptions {
  /** The file name the text came from, named in every error message. */
  file: string;
  /** What the file holds, in the message "Cannot load <noun> '<file>'" (e.g. `image`). */
  noun: string;
  /** Checks the schema alone cannot make, located like the schema's issues. */
  semantic?: (value: unknown, locate: JsoncLocate) => JsoncIssue[];
}

/** One issue a semantic check found: the field path, the message, the offset in the text. */
export interface JsoncIssue {
  field: string;
  message: string;
  offset: number | undefined;
}

/** Finds the offset a JSON path points at (its value, or its key), when there is text. */
export type JsoncLocate = (
  path: readonly PropertyKey[],
  how: "value" | "key",
) => number | undefined;

/**
 * Parses JSONC text (comments and trailing commas allowed) and validates it
 * with a zod schema, the way images are: every issue (syntax, duplicate
 * keys, the schema's, the semantic check's) is reported in one `EINVAL`
 * naming the file, line, column and field (see the module doc).
 */
export function parseJsoncAs<S extends z.ZodType>(
  text: string,
  schema: S,
  options: ParseJsoncOptions,
): z.infer<S> {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || root === undefined) {
    const syntax = errors.length > 0
      ? errors.map((error) => _syntaxIssue(text, error))
      : [{ field: "(root)", message: "unexpected end of file", offset: text.length }];
    throw _refusal(options.file, text, syntax, options.noun);
  }
  const located = [..._duplicateKeys(text, root)];
  const locate: _Locate = (path, how) => _offsetOf(root, path, how);
  const value = _nodeValue(root);
  const result = schema.safeParse(value);
  if (!result.success) {
    located.push(..._zodIssues(result.error.issues, [], value, locate, schema));
  }
  if (options.semantic !== undefined) located.push(...options.semantic(value, locate));
  if (located.length > 0 || !result.success) {
    throw _refusal(options.file, text, located, options.noun);
  }
  return result.data;
}

/**
 * Validates an image given as a value (an inline image of an API request).
 * Applies the same rules as {@linkcode parseImage}, without positions.
 */
export function validateImage(value: unknown, options: ValidateImageOptions = {}): AgentImage {
  const locate: _Locate = () => undefined;
  const result = AgentImageSchema.safeParse(value);
  const located = result.success ? [] : _zodIssues(result.error.issues, [], value, locate);
  located.push(..._semanticIssues(value, locate));
  if (located.length > 0 || !result.success) {
    throw _refusal(options.source ?? "inline", undefined, located);
  }
  return result.data;
}

/**
 * Reads an image file and parses it with {@linkcode parseImage}, naming the
 * path as given. A missing file is `ENOENT`.
 */
export async function loadImageFile(path: string): Promise<AgentImage> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw libosError(
        "ENOENT",
        `Cannot load image '${path}': no such file`,
        { file: path },
        error,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
      throw libosError(
        "EPERM",
        `Cannot load image '${path}': permission denied`,
        { file: path },
        error,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw libosError("EINVAL", `Cannot load image '${path}': ${reason}`, { file: path }, error);
  }
  return parseImage(text, { file: path });
}

/** Builds the EINVAL error for a list of issues, sorted by position. */
function _refusal(
  file: string,
  text: string | undefined,
  located: _Located[],
  noun = "image",
) {
  const issues: ImageIssue[] = located
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) =>
      (a.issue.offset ?? Infinity) - (b.issue.offset ?? Infinity) || a.index - b.index
    )
    .map(({ issue }) => {
      const out: ImageIssue = { field: issue.field, message: issue.message };
      if (text !== undefined && issue.offset !== undefined) {
        const at = lineColumn(text, issue.offset);
        out.line = at.line;
        out.column = at.column;
      }
      return out;
    });
  if (issues.length === 0) {
    issues.push({ field: "(root)", message: `invalid ${noun}` });
  }
  const lines = issues.map((issue) => {
    const where = issue.line === undefined ? "" : `${issue.line}:${issue.column} `;
    return `${where}${issue.field}: ${issue.message}`;
  });
  const first = issues[0]!;
  const fields: ErrorFields = { file, field: first.field, issues };
  if (first.line !== undefined) fields.line = first.line;
  if (first.column !== undefined) fields.column = first.column;
  return libosError("EINVAL", `Cannot load ${noun} '${file}': ${lines.join("\n")}`, fields);
}

/** Words for jsonc-parser's error codes. */
const _SYNTAX_WORDS: Record<string, string> = {
  InvalidSymbol: "invalid symbol",
  InvalidNumberFormat: "invalid number format",
  PropertyNameExpected: "expected a property name",
  ValueExpected: "expected a value",
  ColonExpected: "expected a colon",
  CommaExpected: "expected a comma",
  CloseBraceExpected: "expected a closing brace '}'",
  CloseBracketExpected: "expected a closing bracket ']'",
  EndOfFileExpected: "expected end of file",
  InvalidCommentToken: "invalid comment",
  UnexpectedEndOfComment: "unexpected end of comment",
  UnexpectedEndOfString: "unexpected end of string",
  UnexpectedEndOfNumber: "unexpected end of number",
  InvalidUnicode: "invalid unicode escape",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character",
};

function _syntaxIssue(text: string, error: ParseError): _Located {
  const words = _SYNTAX_WORDS[printParseErrorCode(error.error)] ?? "syntax error";
  const atEnd = error.offset >= text.length && !words.startsWith("unexpected end");
  const message = atEnd ? `unexpected end of file (${words})` : `syntax error: ${words}`;
  return { field: "(syntax)", message, offset: error.offset };
}

/** Builds a plain value from the tree (no prototype setters for a `__proto__` key). */
function _nodeValue(node: JsonNode): unknown {
  switch (node.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const property of node.children ?? []) {
        const [key, valueNode] = property.children ?? [];
        if (key === undefined || valueNode === undefined) continue;
        Object.defineProperty(out, String(key.value), {
          value: _nodeValue(valueNode),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case "array":
      return (node.children ?? []).map(_nodeValue);
    case "property":
      return node.children?.[1] === undefined ? undefined : _nodeValue(node.children[1]);
    default:
      return node.value;
  }
}

/** Reports object keys written twice (the last one would silently win). */
function* _duplicateKeys(
  text: string,
  node: JsonNode,
  path: PropertyKey[] = [],
): Generator<_Located> {
  if (node.type === "object") {
    const seen = new Map<string, JsonNode>();
    for (const property of node.children ?? []) {
      const [key, valueNode] = property.children ?? [];
      if (key === undefined) continue;
      const name = String(key.value);
      const earlier = seen.get(name);
      if (earlier === undefined) {
        seen.set(name, key);
      } else {
        yield {
          field: _fieldPath([...path, name]),
          message: `duplicate property '${name}' (first at ${_at(text, earlier.offset)})`,
          offset: key.offset,
        };
      }
      if (valueNode !== undefined) yield* _duplicateKeys(text, valueNode, [...path, name]);
    }
  } else if (node.type === "array") {
    for (const [index, child] of (node.children ?? []).entries()) {
      yield* _duplicateKeys(text, child, [...path, index]);
    }
  }
}

function _at(text: string, offset: number): string {
  const { line, column } = lineColumn(text, offset);
  return `${line}:${column}`;
}

/** The offset of the node at `path`; for a path that is absent, its deepest present ancestor. */
function _offsetOf(root: JsonNode, path: readonly PropertyKey[], how: _PointAt): number {
  const segments = path.filter((s): s is string | number => typeof s !== "symbol");
  for (let depth = segments.length; depth >= 0; depth--) {
    const node = depth === 0 ? root : findNodeAtLocation(root, segments.slice(0, depth));
    if (node === undefined) continue;
    if (how === "key" && depth === segments.length && node.parent?.type === "property") {
      return node.parent.children?.[0]?.offset ?? node.offset;
    }
    return node.offset;
  }
  return root.offset;
}

/** Renders a path the way a person writes it: `capabilities[0].rights`. */
function _fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && /^[A-Za-z_$][\w$]*$/.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === "" ? "(root)" : out;
}

/** The value at `path` in `value`, and whether it is there. */
function _lookup(value: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let current = value;
  for (const segment of path) {
    if (
      current === null || typeof current !== "object" ||
      !Object.prototype.hasOwnProperty.call(current, segment)
    ) return { found: false, value: undefined };
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return { found: true, value: current };
}

/** A short JSON rendering of a received value, for messages. */
function _shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Turns zod issues into located issues, resolving unions to their closest
 * branch. zod itself settles a union on the one branch that failed only with
 * unknown keys, which reads badly for `{"tool": "x", "args": []}` (it answers
 * "unknown property 'tool'" from the `{text, calls}` branch); so where an
 * unknown-key issue sits on a union, every branch is tried again and the
 * closest one is reported instead.
 */
function _zodIssues(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PropertyKey[],
  value: unknown,
  locate: _Locate,
  schema: z.ZodType = AgentImageSchema,
): _Located[] {
  const out: _Located[] = [];
  const reopened: PropertyKey[][] = [];
  for (const issue of issues) {
    if (issue.code !== "unrecognized_keys" || issue.path.length === 0) continue;
    const path = [...base, ...issue.path];
    const options = _unionOptionsAt(schema, path);
    if (options.length < 2 || reopened.some((p) => _samePath(p, path))) continue;
    reopened.push(path);
    const target = _lookup(value, path).value;
    const branches = options.map((option) => option.safeParse(target).error?.issues ?? []);
    out.push(..._closestBranch(branches, path, value, locate, schema));
  }
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (reopened.some((p) => _startsWith(path, p))) continue;
    switch (issue.code) {
      case "invalid_union": {
        const branch = _closestBranch(issue.errors, path, value, locate, schema);
        if (branch.length > 0) out.push(...branch);
        else {out.push({
            field: _fieldPath(path),
            message: "invalid value",
            offset: locate(path, "value"),
          });}
        break;
      }
      case "unrecognized_keys":
        for (const key of issue.keys) {
          out.push({
            field: _fieldPath([...path, key]),
            message: `unknown property '${key}'`,
            offset: locate([...path, key], "key"),
          });
        }
        break;
      case "invalid_type": {
        const at = _lookup(value, path);
        if (!at.found) {
          const name = String(path.at(-1));
          const expected = issue.expected === "nonoptional" ? "" : ` (expected ${issue.expected})`;
          out.push({
            field: _fieldPath(path),
            message: `missing required property '${name}'${expected}`,
            offset: locate(path.slice(0, -1), "value"),
          });
        } else {
          out.push({
            field: _fieldPath(path),
            message: `expected ${issue.expected}, received ${_typeName(at.value)}`,
            offset: locate(path, "value"),
          });
        }
        break;
      }
      case "invalid_format": {
        const at = _lookup(value, path);
        const received = at.found ? `, received ${_shown(at.value)}` : "";
        out.push({
          field: _fieldPath(path),
          message: `${_formatExpectation(issue)}${received}`,
          offset: locate(path, "value"),
        });
        break;
      }
      case "invalid_value": {
        const at = _lookup(value, path);
        const options = issue.values.map((v) => _shown(v)).join(", ");
        const expected = issue.values.length === 1 ? options : `one of ${options}`;
        const received = at.found ? `, received ${_shown(at.value)}` : "";
        out.push({
          field: _fieldPath(path),
          message: `expected ${expected}${received}`,
          offset: locate(path, "value"),
        });
        break;
      }
      default: {
        const at = _lookup(value, path);
        const shown = typeof at.value === "number" || typeof at.value === "string";
        out.push({
          field: _fieldPath(path),
          message: `${_lowerFirst(issue.message)}${shown ? `, received ${_shown(at.value)}` : ""}`,
          offset: locate(path, "value"),
        });
      }
    }
  }
  return out;
}

function _samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && _startsWith(a, b);
}

function _startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => path[i] === segment);
}

/** The schemas a value at `path` may be checked against: a union there gives all its options. */
function _unionOptionsAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let current: z.ZodType[] = [schema];
  for (const segment of path) {
    const next: z.ZodType[] = [];
    for (const candidate of current.flatMap(_options)) {
      if (candidate instanceof z.ZodObject && typeof segment === "string") {
        const child = (candidate.shape as Record<string, z.ZodType | undefined>)[segment];
        if (child !== undefined) next.push(child);
      } else if (candidate instanceof z.ZodArray && typeof segment === "number") {
        next.push(candidate.element as z.ZodType);
      } else if (candidate instanceof z.ZodRecord) {
        next.push(candidate.valueType as z.ZodType);
      }
    }
    current = next;
  }
  return current.flatMap(_options);
}

/** A schema without its wrappers; a union as its options. */
function _options(schema: z.ZodType): z.ZodType[] {
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap(_options);
  if (
    schema instanceof z.ZodDefault || schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable || schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNonOptional || schema instanceof z.ZodReadonly ||
    schema instanceof z.ZodCatch
  ) return _options(schema.unwrap() as z.ZodType);
  return [schema];
}

/**
 * Picks the union branch the author most likely meant: one whose literal
 * (e.g. `provider: "scripted"`) matched, then the fewest issues, then the
 * deepest (the branch that got furthest into the value).
 */
function _closestBranch(
  branches: readonly (readonly z.core.$ZodIssue[])[],
  base: readonly PropertyKey[],
  value: unknown,
  locate: _Locate,
  schema: z.ZodType = AgentImageSchema,
): _Located[] {
  let best: { issues: _Located[]; literal: boolean; depth: number } | undefined;
  for (const branch of branches) {
    const literal = branch.some((i) => i.code === "invalid_value" && i.values.length === 1);
    const depth = Math.max(0, ...branch.map((i) => i.path.length));
    const issues = _zodIssues(branch, base, value, locate, schema);
    const better = best === undefined ||
      (literal !== best.literal
        ? !literal
        : issues.length !== best.issues.length
        ? issues.length < best.issues.length
        : depth > best.depth);
    if (better) best = { issues, literal, depth };
  }
  return best?.issues ?? [];
}

function _formatExpectation(issue: z.core.$ZodIssueInvalidStringFormat): string {
  switch (issue.format) {
    case "datetime":
      return "expected an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z";
    case "regex":
      return issue.message.startsWith("Invalid")
        ? _lowerFirst(issue.message)
        : `expected ${issue.message}`;
    default:
      return `expected a valid ${issue.format}`;
  }
}

function _typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function _lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** The rules zod alone cannot express: resource kinds, rights by kind, unique seed names. */
function _semanticIssues(value: unknown, locate: _Locate): _Located[] {
  const out: _Located[] = [];
  if (value === null || typeof value !== "object") return out;
  const image = value as Record<string, unknown>;
  if (Array.isArray(image.capabilities)) {
    for (const [index, grant] of image.capabilities.entries()) {
      out.push(..._grantIssues(grant, ["capabilities", index], locate));
    }
  }
  if (Array.isArray(image.memory)) {
    const seen = new Map<string, number>();
    for (const [index, seed] of image.memory.entries()) {
      const name = (seed as { name?: unknown } | null)?.name;
      if (typeof name !== "string") continue;
      const first = seen.get(name);
      if (first === undefined) {
        seen.set(name, index);
        continue;
      }
      const path = ["memory", index, "name"];
      out.push({
        field: _fieldPath(path),
        message: `duplicate seed object name '${name}' (first in memory[${first}])`,
        offset: locate(path, "value"),
      });
    }
  }
  return out;
}

function _grantIssues(grant: unknown, base: PropertyKey[], locate: _Locate): _Located[] {
  if (grant === null || typeof grant !== "object") return [];
  const { resource, rights } = grant as { resource?: unknown; rights?: unknown };
  if (typeof resource !== "string" || resource === "") return [];
  const colon = resource.indexOf(":");
  const kind = colon === -1 ? resource : resource.slice(0, colon);
  const resourcePath = [...base, "resource"];
  const problem = (message: string): _Located[] => [
    { field: _fieldPath(resourcePath), message, offset: locate(resourcePath, "value") },
  ];
  if (!Object.hasOwn(RIGHTS_BY_KIND, kind)) {
    const kinds = Object.keys(RIGHTS_BY_KIND).join(", ");
    return problem(`unknown resource kind '${kind}' in '${resource}'; expected one of ${kinds}`);
  }
  if (colon === -1 && !BARE_KINDS.has(kind)) {
    return problem(`resource '${resource}' needs a pattern after '${kind}:', e.g. '${kind}:*'`);
  }
  if (colon !== -1 && colon === resource.length - 1) {
    return problem(`resource '${resource}' has an empty pattern after '${kind}:'`);
  }
  if (!Array.isArray(rights)) return [];
  const allowed: readonly string[] = RIGHTS_BY_KIND[kind as ResourceKind];
  const out: _Located[] = [];
  for (const [index, right] of rights.entries()) {
    if (typeof right !== "string" || allowed.includes(right)) continue;
    const path = [...base, "rights", index];
    out.push({
      field: _fieldPath(path),
      message: `right '${right}' is not valid for ${kind} resources; expected one of ${
        allowed.join(", ")
      }`,
      offset: locate(path, "value"),
    });
  }
  return out;
}
