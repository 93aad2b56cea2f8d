// --cfg configuration files (spec: "Configuration files"; crosvm's former config-file feature, cmdline.rs
// `load_config_file` / `include_config_file`). A file is a JSON object with the command line's option names:
//   { "kernel": "/bzImage", "cpus": {"num-cores": 8}, "mem": {"size": 2048},
//     "block": [{"path": "/root.img", "root": true}], "serial": [...], "params": [...], "cfg": ["net.json"] }
// The keys and their schemas come from RUN_OPTIONS (run_options.ts): every option under its long name, a list
// option as a JSON list, a key=value option as an object with the same keys. Only stable options are accepted, so
// the deprecated --disk/--rwdisk/--root/--rwroot forms are not. "cfg" includes
// other files, relative to the including file's folder; they are applied first, in order, then the file itself.
// A key appears once in each object, as serde refuses a struct field given twice (json_duplicate_key.ts).
import { readFileSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import * as v from "valibot";
import { ArgumentError } from "./errors.ts";
import { emptyArgs, mergeArgs } from "./option_table.ts";
import { RUN_OPTIONS, type RunArgs } from "./run_options.ts";
import {
  canonicalKey,
  issueValue,
  keyIssueKind,
  objectKeys,
  schemaAt,
  unwrap,
  type AnySchema,
  type KeyValueSpec,
} from "./schema_shape.ts";
import { duplicateKeyPath } from "./json_duplicate_key.ts";
import { describeValue, formatPath } from "../base/shown_value.ts";

/** Every option of RUN_OPTIONS that files accept, under its long name; a list option takes a JSON list. */
const fileSchema = v.strictObject(
  Object.fromEntries(
    Object.entries(RUN_OPTIONS).flatMap(([key, e]) => {
      if (e.file === undefined) return [];
      const one = e.file as AnySchema;
      return [[key, v.optional(e.repeatable ? v.array(one, e.fileList ?? "a list") : one)]];
    }),
  ),
  "a JSON object of options",
);

type FileOptions = Record<string, unknown>;

/** The "expected ..." message a schema was built with. */
function expectedOf(schema: AnySchema | undefined): string {
  const message = schema === undefined ? undefined : (unwrap(schema) as { message?: unknown }).message;
  return typeof message === "string" ? message : "a value";
}

/** The path of the first JSON array where `schema` wants an object (valibot takes arrays for objects). */
function arrayForObject(
  schema: AnySchema,
  value: unknown,
  path: (string | number)[],
): (string | number)[] | undefined {
  const s = unwrap(schema);
  if (value === null || typeof value !== "object") return undefined;
  if ("entries" in s) {
    if (Array.isArray(value)) return path;
    for (const [key, inner] of Object.entries(s.entries as Record<string, AnySchema>)) {
      const found = arrayForObject(inner, (value as Record<string, unknown>)[key], [...path, key]);
      if (found) return found;
    }
  } else if ("item" in s && Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = arrayForObject(s.item as AnySchema, item, [...path, index]);
      if (found) return found;
    }
  }
  return undefined;
}

/** Renames serde-style aliases (block_size -> block-size) in the object, or each object of the list, at `key`. */
function normalizeAliases(
  file: string,
  json: Record<string, unknown>,
  key: string,
  spec: KeyValueSpec,
): void {
  const value = json[key];
  const items = Array.isArray(value) ? value : [value];
  items.forEach((item, index) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return;
    const obj = item as Record<string, unknown>;
    const where = Array.isArray(value) ? `${key}[${index}]` : key;
    for (const alias of Object.keys(spec.aliases ?? {})) {
      if (!(alias in obj)) continue;
      const name = canonicalKey(spec, alias);
      if (name in obj)
        throw new ArgumentError(`${file}: ${where}: "${alias}" and "${name}" are the same key`);
      obj[name] = obj[alias];
      delete obj[alias];
    }
  });
}

function validate(file: string, json: unknown): FileOptions {
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    for (const [key, e] of Object.entries(RUN_OPTIONS))
      if (e.keyValues !== undefined)
        normalizeAliases(file, json as Record<string, unknown>, key, e.keyValues);
  }
  const arrayPath = arrayForObject(fileSchema, json, []);
  if (arrayPath !== undefined) {
    const at = arrayPath.length === 0 ? "" : `${formatPath(arrayPath)}: `;
    const array = arrayPath.reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], json);
    throw new ArgumentError(
      `${file}: ${at}expected ${expectedOf(schemaAt(fileSchema, arrayPath))}, got ${describeValue(array)}`,
    );
  }
  const result = v.safeParse(fileSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = (issue.path ?? []).map((p) => p.key);
    const where = path.length === 0 ? "" : `${formatPath(path)}: `;
    switch (keyIssueKind(issue)) {
      case "unknown":
        throw new ArgumentError(
          `${file}: ${where}unknown key (expected one of: ${objectKeys(schemaAt(fileSchema, path.slice(0, -1))).join(", ")})`,
        );
      case "missing":
        throw new ArgumentError(
          `${file}: ${where}missing (expected ${expectedOf(schemaAt(fileSchema, path))})`,
        );
      default:
        throw new ArgumentError(
          `${file}: ${where}expected ${issue.message}, got ${describeValue(issueValue(issue))}`,
        );
    }
  }
  return result.output;
}

/** A file's options as one layer of RunArgs, each value marked as coming from `file`. */
function toRunArgs(file: string, options: FileOptions): RunArgs {
  const args = emptyArgs(RUN_OPTIONS) as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    args[key] = Array.isArray(value)
      ? value.map((item) => ({ value: item, from: file }))
      : { value, from: file };
  }
  return args as RunArgs;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError(`${file}: cannot read the configuration file (${code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ArgumentError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const duplicate = duplicateKeyPath(text);
  if (duplicate !== undefined)
    throw new ArgumentError(
      `${file}: ${formatPath(duplicate)}: given more than once (expected each key once)`,
    );
  return json;
}

/**
 * Loads `file` (a path as given on the command line, relative to the current folder) and the files it includes,
 * and returns them merged: included files first, in order, then `file` itself. `chain` holds the real paths of
 * the files that include this one, to refuse include cycles.
 */
export function loadConfigFile(
  file: string,
  chain: readonly { real: string; shown: string }[] = [],
): RunArgs {
  const json = readJson(file);
  const real = realpathSync(file);
  const cycleStart = chain.findIndex((c) => c.real === real);
  if (cycleStart >= 0) {
    const cycle = [...chain.slice(cycleStart).map((c) => c.shown), file].join(" -> ");
    throw new ArgumentError(`${chain[chain.length - 1]!.shown}: include cycle: ${cycle}`);
  }
  const options = toRunArgs(file, validate(file, json));
  const inner = [...chain, { real, shown: file }];
  let merged = emptyArgs(RUN_OPTIONS);
  for (const { value: include } of options.cfg) {
    const path = isAbsolute(include) ? include : join(dirname(file), include);
    merged = mergeArgs(RUN_OPTIONS, merged, loadConfigFile(path, inner));
  }
  // The includes are done: a layer's `cfg` is never applied again.
  return mergeArgs(RUN_OPTIONS, merged, { ...options, cfg: [] });
}
