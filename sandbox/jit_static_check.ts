/**
 * The static check of a JIT tool: its source is parsed with the TypeScript
 * compiler (an AST, not regular expressions) and refused, with the line and
 * column of each problem, when it
 *
 * - imports dynamically (`import()`), uses `require`, or imports anything but
 *   {@linkcode JIT_IMPORT_ALLOWLIST} (`libos/tool` and `zod`), or imports with
 *   attributes (`with { type: "json" }`);
 * - re-exports from another module (`export * from`, `export { x } from`) or
 *   uses `import.meta`;
 * - names `eval` or `Function`, the global object (`global`, `globalThis`,
 *   `self`, `window`, or an event handler of the worker scope such as
 *   `addEventListener`, whose listeners get it as `this` and as the event's
 *   target), or a global that reaches past `sys` (`Deno`, `fetch`,
 *   `WebSocket`, `Worker`, `WebAssembly`, …) — by identifier, wherever it is
 *   used as a value, including a local that would shadow it;
 * - reads a property named like the global object or `Deno`
 *   ({@linkcode JIT_GLOBAL_OBJECT_NAMES}) — `x.globalThis`, `x["De" + "no"]`,
 *   `` x[`Deno`] ``, `x[k]` where `k` is a `const` holding such a string, or
 *   destructuring `{ Deno: d }` — so that no alias of the global object
 *   reaches `Deno`; a key computed at run time is the isolate's to contain
 *   (it holds no host facts). Keys that only define (`{ self: 1 }`, a class
 *   member, a type member) and labels are not reads and are accepted;
 * - uses `this` outside a class member or an object's method: at the top
 *   level of a module it is `undefined`, and a plain `function` called by
 *   the runtime without a receiver may be given the global object (an event
 *   listener is);
 * - carries a `@ts-ignore`, `@ts-expect-error` or `@ts-nocheck` comment,
 *   anywhere and in any spelling the compiler might honour (the type-check
 *   must see all of the tool);
 * - declares ambient modules or globals, or uses `/// <reference>` directives
 *   (they would change what the type-check sees);
 * - has no default export, or a default export that is not a
 *   `defineTool({...})` call with `defineTool` imported from `libos/tool`.
 *
 * A tools-folder file gets the same check without the forbidden names (the
 * `"folder"` profile): no `import()` (a `data:` or `blob:` module would be
 * code from a string), static imports only from the allowlist.
 *
 * It is defence in depth: the isolate (a permission-less worker, code
 * generation from strings disabled, bubblewrap where available) is the
 * boundary, and a computed name such as `(() => {}).constructor` is left to it.
 *
 * @example
 * ```ts ignore
 * const result = await staticCheck(source);
 * if (!result.ok) for (const p of result.problems) console.log(`${p.line}:${p.column} ${p.message}`);
 * ```
 *
 * @module
 */
import type TypeScript from "typescript";
import { loadTypeScript, type TypeScriptApi } from "./jit_typescript.ts";

/** The module specifiers a JIT tool may import. */
export const JIT_IMPORT_ALLOWLIST: readonly string[] = ["libos/tool", "zod"];

/** Names a tool may not use as values: each reaches past `sys` or generates code. */
export const JIT_FORBIDDEN_NAMES: Readonly<Record<string, string>> = {
  eval: "a tool may not generate code from strings",
  Function: "a tool may not generate code from strings",
  require: "a tool imports only statically, from libos/tool or zod",
  global: "a tool may not reach the global object",
  globalThis: "a tool may not reach the global object",
  self: "a tool may not reach the global object",
  window: "a tool may not reach the global object",
  Deno: "a tool reaches the world only through sys",
  WebAssembly: "a tool may not compile code",
  Worker: "a tool may not start workers",
  SharedWorker: "a tool may not start workers",
  BroadcastChannel: "a tool may not open channels to other isolates",
  caches: "a tool reaches storage only through sys",
  localStorage: "a tool reaches storage only through sys",
  sessionStorage: "a tool reaches storage only through sys",
  indexedDB: "a tool reaches storage only through sys",
  fetch: "a tool reaches the network only through sys",
  XMLHttpRequest: "a tool reaches the network only through sys",
  WebSocket: "a tool reaches the network only through sys",
  WebSocketStream: "a tool reaches the network only through sys",
  EventSource: "a tool reaches the network only through sys",
  importScripts: "a tool imports only statically, from libos/tool or zod",
  // The worker scope is the global object: its listeners get it as `this` and as the target.
  addEventListener: "a tool may not reach the global object",
  removeEventListener: "a tool may not reach the global object",
  dispatchEvent: "a tool may not reach the global object",
  onmessage: "a tool may not reach the global object",
  onmessageerror: "a tool may not reach the global object",
  onerror: "a tool may not reach the global object",
  onunhandledrejection: "a tool may not reach the global object",
  onrejectionhandled: "a tool may not reach the global object",
};

/**
 * The global object's names and `Deno`: a JIT tool may not read a property
 * of that name either, so that an alias of the global object gets nothing.
 */
export const JIT_GLOBAL_OBJECT_NAMES: ReadonlySet<string> = new Set([
  "global",
  "globalThis",
  "self",
  "window",
  "Deno",
]);

/** A comment directive that hides code from the type-check, in any spacing or case. */
const _TS_DIRECTIVE = /@\s*ts\s*-\s*(ignore|expect\s*-\s*error|nocheck)/gi;

/** One refused construct, 1-based. */
export interface StaticProblem {
  line: number;
  column: number;
  message: string;
}

/** The outcome of {@linkcode staticCheck}; `imports` lists the module specifiers the tool imports. */
export type StaticCheckResult =
  | { ok: true; imports: string[] }
  | { ok: false; problems: StaticProblem[] };

/** Most problems reported for one source; the rest are counted in the last one. */
const _MAX_PROBLEMS = 50;

/**
 * Which rules apply: `"jit"` (a proposal from a model: every rule) or
 * `"folder"` (a tools-folder file an operator installed: every rule but the
 * forbidden names, whose attempts the isolate blocks and reports; `require`
 * and `importScripts` stay refused).
 */
export type StaticCheckProfile = "jit" | "folder";

/** Names refused in every profile: they load code, which only static imports may. */
const _LOADERS = new Set(["require", "importScripts"]);

/** Parses a tool's source and refuses what a tool may not do (see the module doc). */
export async function staticCheck(
  source: string,
  options: { profile?: StaticCheckProfile } = {},
): Promise<StaticCheckResult> {
  const ts = await loadTypeScript();
  return new _Checker(ts, source, options.profile ?? "jit").run();
}

class _Checker {
  readonly #ts: TypeScriptApi;
  readonly #file: TypeScript.SourceFile;
  readonly #problems: StaticProblem[] = [];
  readonly #imports = new Set<string>();
  /** Local names bound to the SDK's `defineTool`, and to the SDK module as a namespace. */
  readonly #defineTool = new Set<string>();
  readonly #sdkNamespaces = new Set<string>();

  readonly #profile: StaticCheckProfile;
  /** Each name declared once as a `const` in the file, with its initializer (for constant keys). */
  readonly #consts = new Map<string, TypeScript.Expression | null>();

  constructor(ts: TypeScriptApi, source: string, profile: StaticCheckProfile) {
    this.#ts = ts;
    this.#profile = profile;
    this.#file = ts.createSourceFile(
      "tool.ts",
      source,
      {
        languageVersion: ts.ScriptTarget.Latest,
        impliedNodeFormat: ts.ModuleKind.ESNext,
      },
      true,
      ts.ScriptKind.TS,
    );
  }

  run(): StaticCheckResult {
    const ts = this.#ts;
    const file = this.#file;
    // The parser's own errors (internal, but present in every release).
    const parse = (file as unknown as { parseDiagnostics?: TypeScript.Diagnostic[] })
      .parseDiagnostics ?? [];
    for (const d of parse) {
      this.#at(
        d.start ?? 0,
        `Cannot parse: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`,
      );
    }
    for (
      const ref of [
        ...file.referencedFiles,
        ...file.typeReferenceDirectives,
        ...file.libReferenceDirectives,
      ]
    ) {
      this.#at(ref.pos, "Cannot use a /// <reference> directive in a tool");
    }
    for (const statement of file.statements) this.#collectImports(statement);
    if (this.#profile === "jit") {
      this.#collectConsts(file);
      this.#checkComments();
    }
    const visit = (node: TypeScript.Node): void => {
      this.#check(node);
      ts.forEachChild(node, visit);
    };
    visit(file);
    this.#checkDefaultExport();
    if (this.#problems.length === 0) return { ok: true, imports: [...this.#imports].sort() };
    const problems = this.#problems.sort((a, b) => a.line - b.line || a.column - b.column);
    if (problems.length > _MAX_PROBLEMS) {
      const rest = problems.length - _MAX_PROBLEMS + 1;
      problems.splice(_MAX_PROBLEMS - 1, Infinity, {
        ...problems[_MAX_PROBLEMS - 1]!,
        message: `… and ${rest} more problems`,
      });
    }
    return { ok: false, problems };
  }

  #at(pos: number, message: string): void {
    const { line, character } = this.#file.getLineAndCharacterOfPosition(pos);
    this.#problems.push({ line: line + 1, column: character + 1, message });
  }

  #node(node: TypeScript.Node, message: string): void {
    this.#at(node.getStart(this.#file), message);
  }

  /** Records the imports of a top-level statement and the SDK's bindings. */
  #collectImports(statement: TypeScript.Statement): void {
    const ts = this.#ts;
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) {
      return;
    }
    const specifier = statement.moduleSpecifier.text;
    this.#imports.add(specifier);
    if (specifier !== "libos/tool") return;
    const bindings = statement.importClause?.namedBindings;
    if (bindings === undefined || statement.importClause?.isTypeOnly) return;
    if (ts.isNamespaceImport(bindings)) {
      this.#sdkNamespaces.add(bindings.name.text);
      return;
    }
    for (const element of bindings.elements) {
      if (!element.isTypeOnly && (element.propertyName ?? element.name).text === "defineTool") {
        this.#defineTool.add(element.name.text);
      }
    }
  }

  #check(node: TypeScript.Node): void {
    const ts = this.#ts;
    if (ts.isImportDeclaration(node)) {
      const spec = node.moduleSpecifier;
      const text = ts.isStringLiteral(spec) ? spec.text : spec.getText(this.#file);
      if (!JIT_IMPORT_ALLOWLIST.includes(text)) {
        this.#node(
          spec,
          `Cannot import '${text}': a tool may import only ${_list(JIT_IMPORT_ALLOWLIST)}`,
        );
      }
      if (node.attributes !== undefined) {
        this.#node(
          node.attributes,
          `Cannot import '${text}' with attributes: a tool imports only code`,
        );
      }
    } else if (
      ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)
    ) {
      this.#node(
        node,
        "Cannot use 'import … = require(…)': a tool imports only statically, from libos/tool or zod",
      );
    } else if (ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier !== undefined) {
        const spec = node.moduleSpecifier;
        const text = ts.isStringLiteral(spec) ? spec.text : spec.getText(this.#file);
        const what = node.exportClause === undefined ? "export * from" : "export … from";
        this.#node(node, `Cannot use '${what} '${text}'': a tool exports only its own definitions`);
      } else if (
        node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
        node.exportClause.elements.some((e) => e.name.text === "default")
      ) {
        this.#node(
          node,
          "Cannot export a default by name: write 'export default defineTool({...})'",
        );
      }
    } else if (ts.isExportAssignment(node) && node.isExportEquals) {
      this.#node(node, "Cannot use 'export =': write 'export default defineTool({...})'");
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      this.#node(
        node,
        "Cannot use import(): a tool imports only statically, from libos/tool or zod",
      );
    } else if (ts.isMetaProperty(node) && node.keywordToken === ts.SyntaxKind.ImportKeyword) {
      this.#node(node, "Cannot use import.meta in a tool: it has no location of its own");
    } else if (
      ts.isModuleDeclaration(node) &&
      (ts.isStringLiteral(node.name) || (node.flags & ts.NodeFlags.GlobalAugmentation) !== 0)
    ) {
      this.#node(node, "Cannot declare ambient modules or globals in a tool");
    } else if (ts.isIdentifier(node)) {
      this.#checkIdentifier(node);
    } else if (this.#profile === "jit") {
      this.#checkJitOnly(node);
    }
  }

  #checkIdentifier(node: TypeScript.Identifier): void {
    const name = node.text;
    if (this.#profile === "jit" && JIT_GLOBAL_OBJECT_NAMES.has(name) && this.#isReadKey(node)) {
      this.#property(node, name);
      return;
    }
    if (!Object.hasOwn(JIT_FORBIDDEN_NAMES, name)) return;
    if (this.#profile === "folder" && !_LOADERS.has(name)) return;
    if (!_isValueReference(this.#ts, node)) return;
    this.#node(node, `Cannot use '${name}': ${JIT_FORBIDDEN_NAMES[name]}`);
  }

  /** The `jit` profile's rules on nodes other than identifiers: computed keys and `this`. */
  #checkJitOnly(node: TypeScript.Node): void {
    const ts = this.#ts;
    let key: TypeScript.Expression | undefined;
    if (ts.isElementAccessExpression(node)) {
      key = node.argumentExpression;
    } else if (ts.isComputedPropertyName(node) && this.#isReadKey(node)) {
      key = node.expression;
    } else if (ts.isStringLiteralLike(node) && this.#isReadKey(node)) {
      key = node;
    } else if (node.kind === ts.SyntaxKind.ThisKeyword && !this.#thisIsAnObject(node)) {
      this.#node(
        node,
        "Cannot use 'this' outside a class member or an object's method: a function called without a receiver may be given the global object",
      );
    }
    if (key === undefined) return;
    const name = this.#constant(key, 0);
    if (name !== null && JIT_GLOBAL_OBJECT_NAMES.has(name)) this.#property(key, name);
  }

  #property(node: TypeScript.Node, name: string): void {
    this.#node(node, `Cannot use the property '${name}': ${JIT_FORBIDDEN_NAMES[name]}`);
  }

  /**
   * Whether `node` (an identifier, a string literal or a computed name) is
   * the key of a read: the name after a dot, or a property name of a
   * destructuring pattern (`const { Deno: d } = x`, `({ Deno: d } = x)`).
   * An element access's key is checked at the access.
   */
  #isReadKey(node: TypeScript.Node): boolean {
    const ts = this.#ts;
    const parent = node.parent;
    if (parent === undefined) return false;
    if (ts.isPropertyAccessExpression(parent)) return parent.name === node;
    if (ts.isBindingElement(parent)) return parent.propertyName === node;
    if (ts.isPropertyAssignment(parent) && parent.name === node) {
      return _isAssignmentPattern(ts, parent.parent);
    }
    return false;
  }

  /**
   * Whether `this` at `node` is bound by its function to an object: inside a
   * class member or an object's method (arrow functions look through).
   */
  #thisIsAnObject(node: TypeScript.Node): boolean {
    const ts = this.#ts;
    for (let p = node.parent; p !== undefined; p = p.parent) {
      if (ts.isArrowFunction(p)) continue;
      if (
        ts.isMethodDeclaration(p) || ts.isGetAccessorDeclaration(p) ||
        ts.isSetAccessorDeclaration(p) || ts.isConstructorDeclaration(p) ||
        ts.isClassStaticBlockDeclaration(p) || ts.isPropertyDeclaration(p)
      ) {
        return true;
      }
      if (ts.isFunctionLike(p) || ts.isSourceFile(p) || ts.isModuleBlock(p)) return false;
    }
    return false;
  }

  /** Records every `const` declared with a plain name; a name declared twice resolves to nothing. */
  #collectConsts(file: TypeScript.SourceFile): void {
    const ts = this.#ts;
    const visit = (node: TypeScript.Node): void => {
      if (
        ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) &&
        ts.isVariableDeclarationList(node.parent) &&
        (node.parent.flags & ts.NodeFlags.Const) !== 0
      ) {
        const name = node.name.text;
        this.#consts.set(name, this.#consts.has(name) ? null : node.initializer ?? null);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  /**
   * The string an expression always is, when it is made of literals: a
   * string or template literal, `+` of such, a template whose parts are such,
   * or a `const` initialized with one. Null for anything else.
   */
  #constant(expression: TypeScript.Expression, depth: number): string | null {
    const ts = this.#ts;
    if (depth > 32) return null;
    const e = _unwrap(ts, expression);
    if (ts.isStringLiteralLike(e)) return e.text;
    if (ts.isNumericLiteral(e)) return e.text;
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const left = this.#constant(e.left, depth + 1);
      const right = left === null ? null : this.#constant(e.right, depth + 1);
      return left === null || right === null ? null : left + right;
    }
    if (ts.isTemplateExpression(e)) {
      let text = e.head.text;
      for (const span of e.templateSpans) {
        const part = this.#constant(span.expression, depth + 1);
        if (part === null) return null;
        text += part + span.literal.text;
      }
      return text;
    }
    if (ts.isIdentifier(e)) {
      const init = this.#consts.get(e.text);
      return init === undefined || init === null ? null : this.#constant(init, depth + 1);
    }
    return null;
  }

  /**
   * Refuses a comment directive that hides code from the type-check. Every
   * comment is trivia before some token (the end-of-file token included):
   * walking every token's leading and trailing comment ranges sees each
   * comment once, and never the inside of a string or template.
   */
  #checkComments(): void {
    const ts = this.#ts;
    const file = this.#file;
    const text = file.text;
    const seen = new Set<number>();
    const comments = (pos: number): void => {
      const ranges = [
        ...ts.getLeadingCommentRanges(text, pos) ?? [],
        ...ts.getTrailingCommentRanges(text, pos) ?? [],
      ];
      for (const range of ranges) {
        if (seen.has(range.pos)) continue;
        seen.add(range.pos);
        for (const match of text.slice(range.pos, range.end).matchAll(_TS_DIRECTIVE)) {
          const directive = `@ts-${match[1]!.toLowerCase().replace(/\s+/g, "")}`;
          this.#at(
            range.pos + match.index,
            `Cannot use a '${directive}' comment in a tool: the type-check must see all of it`,
          );
        }
      }
    };
    const visit = (node: TypeScript.Node): void => {
      if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) {
        return;
      }
      comments(node.pos);
      comments(node.end);
      for (const child of node.getChildren(file)) visit(child);
    };
    visit(file);
  }

  #checkDefaultExport(): void {
    const ts = this.#ts;
    let found = false;
    for (const statement of this.#file.statements) {
      if (ts.isExportAssignment(statement) && !statement.isExportEquals) {
        found = true;
        if (!this.#isDefineToolCall(statement.expression)) {
          this.#node(
            statement.expression,
            "Cannot accept the default export: it must be a defineTool({...}) call, with defineTool imported from libos/tool",
          );
        }
      } else if (
        (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) &&
        statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.DefaultKeyword)
      ) {
        found = true;
        this.#node(
          statement,
          "Cannot accept the default export: it must be a defineTool({...}) call, not a function or class",
        );
      }
    }
    if (!found && !this.#problems.some((p) => p.message.startsWith("Cannot export a default"))) {
      this.#at(
        this.#file.getEnd(),
        "Cannot find the tool: the module has no default export; end it with 'export default defineTool({...})'",
      );
    }
  }

  #isDefineToolCall(expression: TypeScript.Expression): boolean {
    const ts = this.#ts;
    const e = _unwrap(ts, expression);
    if (!ts.isCallExpression(e)) return false;
    const callee = e.expression;
    if (ts.isIdentifier(callee)) return this.#defineTool.has(callee.text);
    return ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) &&
      this.#sdkNamespaces.has(callee.expression.text) && callee.name.text === "defineTool";
  }
}

/**
 * Whether an identifier names a binding as a value: not a property name after
 * a dot, a key of an object literal or a class, a label, or part of a type.
 * A declaration counts (a local `fetch` would make every later use ambiguous
 * to a reader), and so does a shorthand property `{ fetch }`; a name inside a
 * type (`typeof fetch`) does not.
 */
function _isValueReference(ts: TypeScriptApi, node: TypeScript.Identifier): boolean {
  const parent = node.parent;
  if (parent === undefined) return true;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  if (
    (ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent) ||
      ts.isPropertySignature(parent) || ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) || ts.isGetAccessorDeclaration(parent) ||
      ts.isSetAccessorDeclaration(parent) || ts.isEnumMember(parent) ||
      ts.isPropertyAssignment(parent)) && parent.name === node
  ) {
    return false;
  }
  if (ts.isBindingElement(parent) && parent.propertyName === node) return false;
  // `declare global { … }` is refused as an ambient declaration; `global` there names no value.
  if (
    ts.isModuleDeclaration(parent) && parent.name === node &&
    (parent.flags & ts.NodeFlags.GlobalAugmentation) !== 0
  ) {
    return false;
  }
  if (
    (ts.isLabeledStatement(parent) || ts.isBreakStatement(parent) ||
      ts.isContinueStatement(parent)) && parent.label === node
  ) {
    return false;
  }
  if (
    (ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent)) && parent.propertyName === node
  ) {
    return false;
  }
  // Inside a type (`typeof fetch` included) a name is erased before the tool runs;
  // a class's `extends` clause is the one type-like place that is a value.
  for (let p: TypeScript.Node | undefined = parent; p !== undefined; p = p.parent) {
    if (
      ts.isExpressionWithTypeArguments(p) && ts.isHeritageClause(p.parent) &&
      p.parent.token === ts.SyntaxKind.ExtendsKeyword && ts.isClassLike(p.parent.parent)
    ) {
      return true;
    }
    if (ts.isTypeNode(p)) return false;
    if (ts.isStatement(p) || ts.isSourceFile(p)) return true;
  }
  return true;
}

/** An expression without the parentheses and type assertions around it. */
function _unwrap(ts: TypeScriptApi, expression: TypeScript.Expression): TypeScript.Expression {
  let e = expression;
  while (
    ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) ||
    ts.isNonNullExpression(e) || ts.isTypeAssertionExpression(e)
  ) {
    e = e.expression;
  }
  return e;
}

/**
 * Whether an object or array literal is the target of a destructuring
 * assignment (`({ a } = x)`, `[{ a }] = xs`, `for ({ a } of xs)`), where its
 * keys are reads. The left side of `=` is always a target: of the assignment,
 * or of a default inside an enclosing pattern.
 */
function _isAssignmentPattern(ts: TypeScriptApi, node: TypeScript.Node): boolean {
  let child: TypeScript.Node = node;
  for (let p = node.parent; p !== undefined; child = p, p = p.parent) {
    if (ts.isBinaryExpression(p) && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      return p.left === child;
    }
    if (ts.isForOfStatement(p) || ts.isForInStatement(p)) return p.initializer === child;
    if (
      !ts.isParenthesizedExpression(p) && !ts.isPropertyAssignment(p) && !ts.isSpreadElement(p) &&
      !ts.isSpreadAssignment(p) && !ts.isArrayLiteralExpression(p) &&
      !ts.isObjectLiteralExpression(p)
    ) {
      return false;
    }
  }
  return false;
}

function _list(names: readonly string[]): string {
  const quoted = names.map((n) => `'${n}'`);
  return quoted.length <= 1
    ? quoted.join("")
    : `${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1)}`;
}
