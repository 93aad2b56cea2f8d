// Fuzz target: --cfg files (spec: "Configuration files"). Each iteration writes a main file and two files it may
// include (a.json, b.json) into a temporary folder: options from the option table with plausible values in their
// file form, "cfg" lists that include the others, the main file itself or a file that is not there (cycles and
// missing includes), then changed as a tree (json_tree.ts: wrong types, huge or deep values, repeated keys,
// "__proto__" and "constructor.prototype" entries) and now and then as bytes. `crosvm run --cfg main.json`,
// sometimes with options of its own, is parsed and checked as run_parse_check.ts checks the command line; also a
// file with a key given twice is never accepted (serde refuses a struct's duplicate field), and no prototype of
// the process changes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasDuplicateKeys, mutateTree, render, toTree, type JsonNode } from "../json_tree.ts";
import { MemoryBound } from "../memory_bound.ts";
import { PrototypeWatch } from "../prototype_watch.ts";
import { type FuzzReport, mutate, Rng, recordFailure, tally } from "../random.ts";
import { optionArgs } from "../run_argv.ts";
import { OPTION_KEYS, optionEntry, plausibleValue } from "../run_option_values.ts";
import { argvNames, checkRunParse } from "../run_parse_check.ts";

/** The options a file may set ("cfg", the includes, is written apart). */
const FILE_KEYS = OPTION_KEYS.filter((k) => optionEntry(k).file !== undefined && k !== "cfg");
const INCLUDABLE = ["a.json", "b.json"] as const;

interface Folder {
  readonly dir: string;
  readonly main: string;
}

/** Names a "cfg" list may hold: the other files, the main file, one that is not there, relative and absolute. */
function includeNames(rng: Rng, folder: Folder): string[] {
  const names = [...INCLUDABLE, "main.json", "missing.json", "sub/../a.json", join(folder.dir, "b.json")];
  return Array.from({ length: rng.int(3) + 1 }, () => rng.pick(names));
}

function document(rng: Rng, folder: Folder, options: number): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (rng.chance(0.7)) doc.kernel = "/vmlinuz";
  for (let n = options; n > 0; n--) {
    const key = rng.pick(FILE_KEYS);
    const value = () => plausibleValue(rng, key);
    doc[key] = optionEntry(key).repeatable ? Array.from({ length: rng.int(2) + 1 }, value) : value();
  }
  if (rng.chance(0.3)) doc.cfg = includeNames(rng, folder);
  return doc;
}

/** A document's text, changed as a tree and sometimes as bytes; `duplicates` says whether a key is repeated. */
function write(rng: Rng, path: string, doc: Record<string, unknown>): { text: string; duplicates: boolean } {
  let tree: JsonNode = toTree(doc);
  for (let n = rng.chance(0.3) ? 0 : rng.int(3) + 1; n > 0; n--) tree = mutateTree(rng, tree, FILE_KEYS);
  let text = render(tree);
  let duplicates = hasDuplicateKeys(tree);
  if (rng.chance(0.1)) {
    const bytes = new TextEncoder().encode(text);
    mutate(rng, bytes, rng.int(4) + 1);
    text = new TextDecoder().decode(bytes);
    duplicates = false; // Unknown after byte changes: not checked.
  }
  writeFileSync(path, text);
  return { text, duplicates };
}

/** Longest path Linux takes (PATH_MAX); a longer string in a file is no file's name. */
const PATH_MAX = 4096;

/** The JSON string literals of `text` up to PATH_MAX long, decoded (a literal that is not valid JSON is left out). */
function shortStrings(text: string): string[] {
  const out: string[] = [];
  for (let start = text.indexOf('"'); start >= 0;) {
    let end = start + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
    if (end - start <= PATH_MAX) {
      try {
        out.push(JSON.parse(text.slice(start, end + 1)) as string);
      } catch {
        // Not a JSON string after byte changes.
      }
    }
    start = text.indexOf('"', end + 1);
  }
  return out;
}

/**
 * The strings of the files' texts that may name an included file, as written and relative to the folder: after
 * byte changes, a "cfg" list names files no generator chose.
 */
function includedPaths(texts: readonly string[], dir: string): string[] {
  return texts.flatMap(shortStrings).flatMap((path) => [path, join(dir, path)]);
}

function argvFor(rng: Rng, folder: Folder): string[] {
  const argv = ["--cfg", folder.main];
  if (rng.chance(0.2)) argv.push("--cfg", join(folder.dir, rng.pick(INCLUDABLE)));
  if (rng.chance(0.3)) {
    const key = rng.pick(OPTION_KEYS);
    argv.push(...optionArgs(rng, key, plausibleValue(rng, key)));
  }
  if (rng.chance(0.1)) argv.push("/vmlinuz");
  return argv;
}

export function fuzzCfgFiles(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats: Record<string, number> = { accepted: 0, refused: 0 };
  const dir = mkdtempSync(join(tmpdir(), "crosvm-ts-fuzz-cfg-"));
  mkdirSync(join(dir, "sub"));
  const folder: Folder = { dir, main: join(dir, "main.json") };
  const names = [dir, ...OPTION_KEYS.map((k) => `--${k}`)];
  const prototypes = new PrototypeWatch();
  const memory = new MemoryBound();
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const main = write(rng, folder.main, document(rng, folder, rng.int(5)));
      const included = INCLUDABLE.map(
        (name) => write(rng, join(dir, name), document(rng, folder, rng.int(3))).text,
      );
      const argv = argvFor(rng, folder);
      const texts = [main.text, ...included];
      const result = checkRunParse({
        argv,
        input: [...argv, ...texts].join("\n"),
        names: [...argvNames(argv), ...names, ...includedPaths(texts, dir)],
      });
      const where = `iteration ${iteration}: ${main.text.slice(0, 200)}`;
      if ("finding" in result) recordFailure(failures, `${where}: ${result.finding}`);
      else {
        tally(stats, result.outcome);
        if (result.outcome === "refused" && result.message.includes("include cycle"))
          tally(stats, "includeCycles");
        if (result.outcome === "accepted" && main.duplicates)
          recordFailure(failures, `${where}: accepted a file with a key given twice`);
      }
      const polluted = prototypes.check();
      if (polluted) recordFailure(failures, `${where}: ${polluted}`);
      if (iteration % 2_000 === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { target: "cfg_files", seed, iterations, failures, stats };
}
