/**
 * Tool folders: the built-in `tools/` and each `--tools DIR`. A scan lists
 * the `*.ts` files of each folder (not `mod.ts`, tests or declarations),
 * learns each tool's name and JSON Schemas by loading it inside an isolate
 * (the kernel never imports a tool), reports a broken file with its reason and
 * skips it, and re-describes only files whose content hash changed since the
 * last scan.
 *
 * @module
 */
import { join } from "node:path";
import { toErrorData } from "../runtime/mod.ts";
import type { ToolDescription } from "./tool_runner.ts";
import { toolHash } from "./tool_runner.ts";

/** A tool found in a folder. */
export interface ToolEntry {
  name: string;
  /** The file it was loaded from. */
  path: string;
  /** The content hash it was described from. */
  hash: string;
  description: ToolDescription;
}

/** A file that is not a usable tool, and why. */
export interface BrokenTool {
  file: string;
  reason: string;
}

/** The outcome of a scan. */
export interface ToolFolderScan {
  tools: ToolEntry[];
  broken: BrokenTool[];
  /** Files described in this scan (new or changed), by path. */
  described: string[];
}

/** What a folder needs from the sandbox: describing a tool file in an isolate. */
export interface ToolDescriber {
  describe(path: string): Promise<ToolDescription>;
}

/** The tools of one or more folders, kept up to date by {@linkcode ToolFolder.scan}. */
export class ToolFolder {
  readonly #describer: ToolDescriber;
  readonly #dirs: string[];
  /** The last description of each file, by path, with the hash it came from. */
  #byPath = new Map<string, { hash: string; entry: ToolEntry | null; broken: string | null }>();
  #byName = new Map<string, ToolEntry>();
  #broken: BrokenTool[] = [];

  constructor(describer: ToolDescriber, dirs: readonly string[]) {
    this.#describer = describer;
    this.#dirs = [...dirs];
  }

  /** Scans the folders; a changed file is described again, a gone one dropped. */
  async scan(): Promise<ToolFolderScan> {
    const files: string[] = [];
    const broken: BrokenTool[] = [];
    for (const dir of this.#dirs) {
      try {
        const names: string[] = [];
        for await (const e of Deno.readDir(dir)) {
          if ((e.isFile || e.isSymlink) && _isToolFile(e.name)) names.push(e.name);
        }
        names.sort();
        for (const name of names) files.push(join(dir, name));
      } catch (error) {
        broken.push({
          file: dir,
          reason: `Cannot list tool folder: ${toErrorData(error).message}`,
        });
      }
    }
    const previous = this.#byPath;
    const next = new Map<
      string,
      { hash: string; entry: ToolEntry | null; broken: string | null }
    >();
    const described: string[] = [];
    for (const file of files) {
      let hash: string;
      try {
        hash = toolHash(await Deno.readTextFile(file));
      } catch (error) {
        broken.push({ file, reason: `Cannot read: ${toErrorData(error).message}` });
        continue;
      }
      const known = previous.get(file);
      if (known !== undefined && known.hash === hash) {
        next.set(file, known);
        continue;
      }
      described.push(file);
      try {
        const d = await this.#describer.describe(file);
        next.set(file, {
          hash: d.hash,
          entry: { name: d.name, path: file, hash: d.hash, description: d },
          broken: null,
        });
      } catch (error) {
        next.set(file, { hash, entry: null, broken: toErrorData(error).message });
      }
    }
    const byName = new Map<string, ToolEntry>();
    for (const [file, state] of next) {
      if (state.broken !== null) {
        broken.push({ file, reason: state.broken });
      } else if (state.entry !== null) {
        const taken = byName.get(state.entry.name);
        if (taken !== undefined) {
          broken.push({
            file,
            reason: `Cannot add tool '${state.entry.name}': the name is taken by ${taken.path}`,
          });
        } else {
          byName.set(state.entry.name, state.entry);
        }
      }
    }
    this.#byPath = next;
    this.#byName = byName;
    this.#broken = broken;
    return { tools: this.list(), broken: [...broken], described };
  }

  /** The tool called `name`, as of the last scan. */
  get(name: string): ToolEntry | undefined {
    return this.#byName.get(name);
  }

  /** Every tool, by name, as of the last scan. */
  list(): ToolEntry[] {
    return [...this.#byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The broken files of the last scan. */
  get broken(): BrokenTool[] {
    return [...this.#broken];
  }
}

function _isToolFile(name: string): boolean {
  return name.endsWith(".ts") && !name.endsWith("_test.ts") && !name.endsWith(".d.ts") &&
    name !== "mod.ts";
}
