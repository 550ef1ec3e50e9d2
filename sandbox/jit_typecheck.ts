/**
 * The offline type-check of a JIT tool: the TypeScript compiler API, run in
 * the kernel's process on an in-memory compiler host that serves exactly four
 * things — the tool's source, the tool SDK (`libos/tool`, the same file every
 * tool imports), zod's declaration files from the Deno npm cache, and the
 * compiler's own `lib` files (ES2024 and the web-worker globals, which is what
 * a tool worker has). Nothing else resolves, nothing is fetched, nothing is
 * written. The compiler options are the repository's (strict,
 * `noUncheckedIndexedAccess`, `exactOptionalPropertyTypes`, …), so a JIT tool
 * is held to the same rules as a tool in `tools/`.
 *
 * Declaration files are parsed once per kernel and reused by every later
 * check. Measured on the shared 2-core machine: the first check of a kernel
 * takes 2–4 s (loading the compiler, parsing the libs), later ones 0.3–0.5 s,
 * almost all of it the checker inferring `defineTool`'s zod generics; a
 * subprocess `deno check --cached-only` on a temp folder with an import map
 * took 2.2 s and 290 MB for every new source. The check runs synchronously on
 * the caller's thread once the compiler is loaded, so a kernel that serves
 * many proposals may move it into a worker.
 *
 * @example
 * ```ts ignore
 * const result = await typecheck(source);
 * if (!result.ok) console.log(result.diagnostics); // "tool.ts:7:11 - error TS2322: …"
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type TypeScript from "typescript";
import { loadTypeScript, type TypeScriptApi } from "./jit_typescript.ts";

/** The outcome of {@linkcode typecheck}: diagnostics are one per line, each naming `file:line:column`. */
export type TypecheckResult = { ok: true } | { ok: false; diagnostics: string };

/** The name the tool's source has in diagnostics. */
export const JIT_TOOL_FILE = "tool.ts";

const _ROOT = "/jit";
const _TOOL = `${_ROOT}/${JIT_TOOL_FILE}`;
const _SDK = "/libos/tool.ts";
const _ZOD = "/node_modules/zod";
const _LIBS = "/ts-lib";
const _LIB_FILES = ["lib.es2024.d.ts", "lib.webworker.d.ts"];
const _MAX_DIAGNOSTICS = 50;

/** Where the served files live on this machine. */
interface _Sources {
  ts: TypeScriptApi;
  /** The real folder behind each virtual one. */
  mounts: [virtual: string, real: string][];
  sdk: string;
}

let _sources: Promise<_Sources> | null = null;
/** Parsed declaration files and the SDK, shared by every check (they never change while the kernel runs). */
const _parsed = new Map<string, TypeScript.SourceFile>();
const _texts = new Map<string, string | null>();

function _loadSources(): Promise<_Sources> {
  _sources ??= (async () => {
    const ts = await loadTypeScript();
    // import.meta.resolve gives the entry file inside the npm cache:
    // …/npm/registry.npmjs.org/<name>/<version>/<entry>.
    const zodDir = dirname(fileURLToPath(import.meta.resolve("zod")));
    const tsLibDir = dirname(fileURLToPath(import.meta.resolve("typescript")));
    const sdkPath = fileURLToPath(new URL("../runtime/tool_sdk.ts", import.meta.url));
    const sdk = await Deno.readTextFile(sdkPath);
    return { ts, mounts: [[_ZOD, zodDir], [_LIBS, tsLibDir]], sdk };
  })();
  return _sources;
}

/** The real path behind a virtual one, or null for anything outside the mounts. */
function _real(sources: _Sources, path: string): string | null {
  for (const [virtual, real] of sources.mounts) {
    if (path === virtual) return real;
    if (path.startsWith(`${virtual}/`)) {
      const rest = path.slice(virtual.length + 1);
      if (rest.split("/").includes("..")) return null;
      return join(real, rest);
    }
  }
  return null;
}

function _readMounted(sources: _Sources, path: string): string | undefined {
  if (path === _SDK) return sources.sdk;
  if (_texts.has(path)) return _texts.get(path) ?? undefined;
  const real = _real(sources, path);
  let text: string | null = null;
  if (real !== null) {
    try {
      text = Deno.readTextFileSync(real);
    } catch {
      text = null;
    }
  }
  _texts.set(path, text);
  return text ?? undefined;
}

function _directoryExists(sources: _Sources, path: string): boolean {
  const trimmed = path.replace(/\/+$/, "") || "/";
  if (["/", _ROOT, "/libos", "/node_modules"].includes(trimmed)) return true;
  const real = _real(sources, trimmed);
  if (real === null) return false;
  try {
    return Deno.statSync(real).isDirectory;
  } catch {
    return false;
  }
}

/** The compiler options of a JIT tool: the repository's, without emit. */
function _options(ts: TypeScriptApi): TypeScript.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: _LIB_FILES,
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    noFallthroughCasesInSwitch: true,
    allowImportingTsExtensions: true,
    isolatedModules: true,
    skipLibCheck: true,
    noEmit: true,
  };
}

function _host(
  sources: _Sources,
  source: string,
  options: TypeScript.CompilerOptions,
): TypeScript.CompilerHost {
  const { ts } = sources;
  const readFile = (path: string) => path === _TOOL ? source : _readMounted(sources, path);
  const moduleHost = {
    fileExists: (path: string) => readFile(path) !== undefined,
    readFile,
    directoryExists: (path: string) => _directoryExists(sources, path),
    realpath: (path: string) => path,
    getCurrentDirectory: () => _ROOT,
    getDirectories: (_path: string): string[] => [],
  } satisfies TypeScript.ModuleResolutionHost;
  return {
    ...moduleHost,
    getSourceFile(fileName, languageVersion) {
      if (fileName === _TOOL) return ts.createSourceFile(fileName, source, languageVersion, true);
      const cached = _parsed.get(fileName);
      if (cached !== undefined) return cached;
      const text = _readMounted(sources, fileName);
      if (text === undefined) return undefined;
      const file = ts.createSourceFile(fileName, text, languageVersion, false);
      _parsed.set(fileName, file);
      return file;
    },
    getDefaultLibFileName: () => `${_LIBS}/lib.d.ts`,
    getDefaultLibLocation: () => _LIBS,
    writeFile: () => {},
    getCanonicalFileName: (name) => name,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => "\n",
    resolveModuleNameLiterals(literals, containingFile) {
      return literals.map((literal) => {
        if (literal.text === "libos/tool") {
          return {
            resolvedModule: {
              resolvedFileName: _SDK,
              extension: ts.Extension.Ts,
              isExternalLibraryImport: false,
            },
          };
        }
        return ts.resolveModuleName(literal.text, containingFile, options, moduleHost);
      });
    },
  };
}

/** `file:line:column - error TSnnnn: message`, one per line, paths shown without their virtual folder. */
function _format(ts: TypeScriptApi, diagnostics: readonly TypeScript.Diagnostic[]): string {
  const lines: string[] = [];
  for (const d of diagnostics.slice(0, _MAX_DIAGNOSTICS)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n  ");
    const kind = ts.DiagnosticCategory[d.category].toLowerCase();
    if (d.file !== undefined && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      const name = d.file.fileName === _TOOL
        ? JIT_TOOL_FILE
        : d.file.fileName === _SDK
        ? "libos/tool"
        : d.file.fileName.replace(/^\/node_modules\//, "").replace(/^\/ts-lib\//, "");
      lines.push(`${name}:${line + 1}:${character + 1} - ${kind} TS${d.code}: ${message}`);
    } else {
      lines.push(`${kind} TS${d.code}: ${message}`);
    }
  }
  if (diagnostics.length > _MAX_DIAGNOSTICS) {
    lines.push(`… and ${diagnostics.length - _MAX_DIAGNOSTICS} more`);
  }
  return lines.join("\n");
}

/**
 * Type-checks a tool's source against the real `libos/tool` types (the SDK and
 * zod's declarations), offline. Runs synchronously on the caller's thread once
 * the compiler is loaded.
 */
export async function typecheck(source: string): Promise<TypecheckResult> {
  const sources = await _loadSources();
  const { ts } = sources;
  const options = _options(ts);
  const program = ts.createProgram({
    rootNames: [_TOOL],
    options,
    host: _host(sources, source, options),
  });
  const file = program.getSourceFile(_TOOL)!;
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSyntacticDiagnostics(file),
    ...program.getSemanticDiagnostics(file),
  ].filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length === 0) return { ok: true };
  return { ok: false, diagnostics: _format(ts, diagnostics) };
}
