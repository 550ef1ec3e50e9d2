/**
 * The object type registry (DESIGN §2, "Object memory"): every object has a
 * type, and every type is a zod schema its payloads must satisfy. The kernel
 * starts with the built-in types of {@linkcode defaultObjectTypes}; images and
 * operators may register more.
 *
 * The built-in object types are strict (`z.strictObject`): a payload with a key
 * its type does not name is refused, so that a typo (`{"txt": …}`) fails where
 * it is made instead of storing a note without text. The `json` type takes any
 * JSON value for payloads that have no type of their own.
 *
 * @module
 */
import { z } from "zod";
import { libosError } from "../errors.ts";

/** A registered object type. */
export interface ObjectType {
  name: string;
  description: string;
  schema: z.ZodType;
}

/** What {@linkcode ObjectTypeRegistry.list} tells about a type. */
export interface ObjectTypeInfo {
  name: string;
  description: string;
}

/** Options of {@linkcode ObjectTypeRegistry.register}. */
export interface RegisterObjectTypeOptions {
  /** One line for humans and models. Default: "". */
  description?: string;
}

/**
 * A type name: lowercase, starting with a letter, then letters, digits, `_`,
 * `-` or `.` (so a user type may be qualified: `acme.ticket`); at most 64.
 */
const _TYPE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/** The types objects may have, by name. */
export class ObjectTypeRegistry {
  readonly #types = new Map<string, ObjectType>();

  /**
   * Registers a type. A name taken already is `EEXIST`; a malformed name
   * (see the grammar above) is `EINVAL`.
   */
  register(name: string, schema: z.ZodType, options: RegisterObjectTypeOptions = {}): void {
    if (typeof name !== "string" || !_TYPE_NAME.test(name)) {
      throw libosError(
        "EINVAL",
        `Cannot register object type '${String(name)}': a type name is lowercase letters, ` +
          "digits, '_', '-' or '.', starting with a letter, at most 64 characters",
        { field: "name" },
      );
    }
    if (this.#types.has(name)) {
      throw libosError(
        "EEXIST",
        `Cannot register object type '${name}': a type of that name is registered already`,
        { field: "name" },
      );
    }
    this.#types.set(name, { name, description: options.description ?? "", schema });
  }

  /** Whether a type of that name is registered. */
  has(name: string): boolean {
    return this.#types.has(name);
  }

  /** The type of that name, or undefined. */
  get(name: string): ObjectType | undefined {
    return this.#types.get(name);
  }

  /** Every type's name and description, by name. */
  list(): ObjectTypeInfo[] {
    return [...this.#types.values()]
      .map(({ name, description }) => ({ name, description }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Validates `payload` against the type's schema and returns the parsed
   * payload. An unknown type, or a payload its schema refuses, is `EINVAL`
   * naming the type and the first problem (`payload.steps[0].title: …`).
   */
  validate(type: string, payload: unknown): unknown {
    const found = this.#types.get(type);
    if (found === undefined) {
      const known = [...this.#types.keys()].sort().join(", ");
      throw libosError(
        "EINVAL",
        `Cannot use object type '${type}': no such type (known: ${known || "none"})`,
        { field: "type" },
      );
    }
    const result = found.schema.safeParse(payload);
    if (result.success) return result.data;
    const issue = _firstIssue(result.error.issues);
    const path = _formatPath(issue?.path ?? []);
    throw libosError(
      "EINVAL",
      `Cannot use object type '${type}': ${path}: ${issue?.message ?? "invalid payload"}`,
      { field: path, type },
      result.error,
    );
  }
}

/** A note: text, optionally tagged. */
export const NoteSchema = z.strictObject({
  text: z.string(),
  tags: z.array(z.string()).optional(),
});

/** A plan: ordered steps, each possibly done. */
export const PlanSchema = z.strictObject({
  steps: z.array(z.strictObject({ title: z.string().min(1), done: z.boolean().optional() })),
});

/** A message between processes or people. */
export const MessageSchema = z.strictObject({
  from: z.string().min(1),
  to: z.string().min(1).optional(),
  text: z.string(),
});

/** A tool call's outcome, as a tool result (DESIGN §2, primitive tools). */
export const ToolResultObjectSchema = z.strictObject({
  tool: z.string().min(1),
  ok: z.boolean(),
  value: z.json().optional(),
  error: z.strictObject({ code: z.string().min(1), message: z.string() }).optional(),
});

/** A file's content at a moment: text or base64 (not both), with its digest and size. */
export const FileSnapshotSchema = z.strictObject({
  path: z.string().min(1),
  text: z.string().optional(),
  base64: z.base64().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected a lowercase hex SHA-256 digest"),
  size: z.number().int().nonnegative(),
}).refine((snapshot) => snapshot.text === undefined || snapshot.base64 === undefined, {
  message: "a snapshot holds text or base64, not both",
  path: ["base64"],
});

/** A report: a title, a body and optional structured data. */
export const ReportSchema = z.strictObject({
  title: z.string().min(1),
  body: z.string(),
  data: z.record(z.string(), z.json()).optional(),
});

/** Any JSON value. */
export const JsonObjectSchema = z.json();

/** Plain text. */
export const TextSchema = z.strictObject({ text: z.string() });

/** Log output: lines, or one text. */
export const LogSchema = z.union([
  z.strictObject({ lines: z.array(z.string()) }),
  z.strictObject({ text: z.string() }),
]);

/** A registry with the built-in types registered. */
export function defaultObjectTypes(): ObjectTypeRegistry {
  const registry = new ObjectTypeRegistry();
  registry.register("note", NoteSchema, { description: "A note: {text, tags?}" });
  registry.register("plan", PlanSchema, { description: "A plan: {steps: [{title, done?}]}" });
  registry.register("message", MessageSchema, { description: "A message: {from, to?, text}" });
  registry.register("tool_result", ToolResultObjectSchema, {
    description: "A tool call's outcome: {tool, ok, value?, error?: {code, message}}",
  });
  registry.register("file_snapshot", FileSnapshotSchema, {
    description: "A file's content: {path, text? | base64?, sha256, size}",
  });
  registry.register("report", ReportSchema, { description: "A report: {title, body, data?}" });
  registry.register("json", JsonObjectSchema, { description: "Any JSON value" });
  registry.register("text", TextSchema, { description: "Plain text: {text}" });
  registry.register("log", LogSchema, { description: "Log output: {lines} or {text}" });
  return registry;
}

/** A problem to report: where, and what. */
interface _Problem {
  path: readonly PropertyKey[];
  message: string;
}

/**
 * The problem to report: the first issue, except that for a union no branch
 * matched it is the issue of the branch that got furthest into the payload
 * (so `log` names `payload.lines[1]`), or, when none got past the union's own
 * value, one message listing what each branch expected.
 */
function _firstIssue(issues: readonly z.core.$ZodIssue[]): _Problem | undefined {
  const issue = issues[0];
  if (issue === undefined || issue.code !== "invalid_union" || issue.errors.length === 0) {
    return issue;
  }
  let best: _Problem | undefined;
  const expected: string[] = [];
  for (const branch of issue.errors) {
    const candidate = _firstIssue(branch);
    if (candidate === undefined) continue;
    if (candidate.path.length > (best?.path.length ?? 0)) best = candidate;
    const first = branch[0];
    if (first?.code === "invalid_type" && !expected.includes(first.expected)) {
      expected.push(first.expected);
    }
  }
  if (best !== undefined) return { path: [...issue.path, ...best.path], message: best.message };
  const fallback = _firstIssue(issue.errors[0] ?? [])?.message ?? issue.message;
  const message = expected.length > 1
    ? `Invalid input: expected ${expected.slice(0, -1).join(", ")} or ${expected.at(-1)}`
    : fallback;
  return { path: issue.path, message };
}

function _formatPath(path: readonly PropertyKey[]): string {
  let out = "payload";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
