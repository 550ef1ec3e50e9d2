/**
 * Workspace path resolution: the first step of every fs primitive. A path a
 * process names is resolved against its cwd into one normalised,
 * workspace-relative POSIX path; that path is what capabilities are checked
 * against (`fs:<path>`) and what a `FilesystemProvider` receives.
 *
 * The normal form: NFC, segments joined by `/`, no `.` or empty segments, no
 * leading `./` or `/`, no trailing `/`; "" is the workspace root.
 *
 * @module
 */
import { libosError } from "../errors.ts";

/** Longest accepted path, in UTF-16 code units (after resolution). */
export const MAX_PATH_LENGTH = 4096;

/** C0 and C1 control characters, DEL, and the bidirectional overrides and isolates. */
// deno-lint-ignore no-control-regex
const _CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * Whether `text` holds a character no path or resource may hold: a C0 or C1
 * control character (NUL included), DEL, or a bidirectional override or
 * isolate (which make a preview read differently from what it names).
 */
export function hasControlCharacters(text: string): boolean {
  return _CONTROL.test(text);
}

/**
 * Resolves `input` against `cwd` (itself workspace-relative, "" for the root)
 * into the normal form described in the module comment. `.` and empty
 * segments are dropped, `..` climbs one segment. Throws EINVAL (fields
 * `{path}`) for control characters (NUL included), backslashes, absolute
 * paths (`/etc/passwd`, `C:\`, `\\server`) and overlong paths; EPERM for a
 * `..` that climbs above the workspace root. An empty input names `cwd`.
 */
export function resolvePath(cwd: string, input: string): string {
  _refuseMalformed(input);
  _refuseMalformed(cwd);
  const segments: string[] = [];
  for (const text of [cwd, input]) {
    for (const segment of text.normalize("NFC").split("/")) {
      if (segment === "" || segment === ".") continue;
      if (segment === "..") {
        if (segments.pop() === undefined) {
          throw libosError(
            "EPERM",
            `Cannot resolve '${input}': it climbs above the workspace root` +
              (cwd === "" ? "" : ` (from the working directory '${cwd}')`),
            { path: input },
          );
        }
        continue;
      }
      segments.push(segment);
    }
  }
  const path = segments.join("/");
  if (path.length > MAX_PATH_LENGTH) {
    throw libosError(
      "EINVAL",
      `Cannot resolve '${
        input.slice(0, 64)
      }…': the path is longer than ${MAX_PATH_LENGTH} characters`,
      { path: input },
    );
  }
  return path;
}

function _refuseMalformed(path: string): void {
  if (typeof path !== "string") {
    throw libosError("EINVAL", `Cannot resolve '${String(path)}': a path must be a string`, {
      path: String(path),
    });
  }
  if (hasControlCharacters(path)) {
    throw libosError(
      "EINVAL",
      `Cannot resolve '${JSON.stringify(path).slice(1, -1)}': ` +
        "the path contains control characters; expected printable text",
      { path },
    );
  }
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) {
    throw libosError(
      "EINVAL",
      `Cannot resolve '${path}': the path is absolute; expected a path relative to the ` +
        "working directory, e.g. 'src/a.ts'",
      { path },
    );
  }
  if (path.includes("\\")) {
    throw libosError(
      "EINVAL",
      `Cannot resolve '${path}': the path contains a backslash; expected '/' as the separator`,
      { path },
    );
  }
}

/**
 * The capability resource of a resolved workspace path: `fs:<path>`, and
 * `fs:.` for the workspace root (an empty pattern is not a resource; `fs:**`
 * and `fs:*` match `.`, `fs:src/**` does not). A file named `.` cannot exist
 * in normal form, so the name is unambiguous.
 */
export function fsResource(path: string): string {
  return path === "" ? "fs:." : `fs:${path}`;
}
