// --cfg configuration files (spec: "Configuration files"; crosvm's former config-file feature, cmdline.rs
// `load_config_file` / `include_config_file`). A file is a JSON object with the command line's option names:
//   { "kernel": "/bzImage", "cpus": {"num-cores": 8}, "mem": {"size": 2048},
//     "block": [{"path": "/root.img", "root": true}], "serial": [...], "params": [...], "cfg": ["net.json"] }
// Only stable options are accepted, so the deprecated --disk/--rwdisk/--root/--rwroot forms are not. "cfg" includes
// other files, relative to the including file's folder; they are applied first, in order, then the file itself.
import { readFileSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import * as v from "valibot";
import { ArgumentError } from "./errors.ts";
import { blockSpec, cpusSpec, memSpec, serialProblem, serialSpec } from "./option_specs.ts";
import { emptyRunArgs, mergeRunArgs, type RunArgs } from "./run_args.ts";
import {
  canonicalKey,
  keyIssueKind,
  objectKeys,
  schemaAt,
  unwrap,
  type AnySchema,
  type KeyValueSpec,
} from "./schema_shape.ts";

const pathString = v.pipe(v.string("a path"), v.nonEmpty("a non-empty path"));
const flag = v.optional(v.boolean("a boolean"));

const fileSchema = v.strictObject(
  {
    kernel: v.optional(pathString),
    bios: v.optional(pathString),
    initrd: v.optional(pathString),
    socket: v.optional(pathString),
    "pivot-root": v.optional(pathString),
    params: v.optional(v.array(v.string("a string"), "a list of strings")),
    mem: v.optional(v.strictObject(memSpec.schema.entries, 'an object such as {"size": 2048}')),
    cpus: v.optional(v.strictObject(cpusSpec.schema.entries, 'an object such as {"num-cores": 4}')),
    block: v.optional(
      v.array(v.strictObject(blockSpec.schema.entries, "an object"), "a list of block devices"),
    ),
    serial: v.optional(
      v.array(v.strictObject(serialSpec.schema.entries, "an object"), "a list of serial ports"),
    ),
    "no-rng": flag,
    pvpanic: flag,
    "disable-sandbox": flag,
    "seccomp-log-failures": flag,
    cfg: v.optional(v.array(pathString, "a list of file paths"), []),
  },
  "a JSON object of options",
);

type FileOptions = v.InferOutput<typeof fileSchema>;

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

function formatPath(path: readonly unknown[]): string {
  let out = "";
  for (const key of path)
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  return out;
}

/** Renames serde-style aliases (block_size -> block-size) in each object of a list option. */
function normalizeAliases(
  file: string,
  json: Record<string, unknown>,
  key: string,
  spec: KeyValueSpec,
): void {
  const list = json[key];
  if (!Array.isArray(list)) return;
  list.forEach((item, index) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return;
    const obj = item as Record<string, unknown>;
    for (const alias of Object.keys(spec.aliases ?? {})) {
      if (!(alias in obj)) continue;
      const name = canonicalKey(spec, alias);
      if (name in obj)
        throw new ArgumentError(`${file}: ${key}[${index}]: "${alias}" and "${name}" are the same key`);
      obj[name] = obj[alias];
      delete obj[alias];
    }
  });
}

function validate(file: string, json: unknown): FileOptions {
  if (json !== null && typeof json === "object" && !Array.isArray(json)) {
    normalizeAliases(file, json as Record<string, unknown>, "block", blockSpec);
    normalizeAliases(file, json as Record<string, unknown>, "serial", serialSpec);
  }
  const arrayPath = arrayForObject(fileSchema, json, []);
  if (arrayPath !== undefined) {
    const at = arrayPath.length === 0 ? "" : `${formatPath(arrayPath)}: `;
    const array = arrayPath.reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], json);
    throw new ArgumentError(
      `${file}: ${at}expected ${expectedOf(schemaAt(fileSchema, arrayPath))}, got ${JSON.stringify(array)}`,
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
          `${file}: ${where}expected ${issue.message}, got ${JSON.stringify(issue.input)}`,
        );
    }
  }
  result.output.serial?.forEach((serial, index) => {
    const problem = serialProblem(serial);
    if (problem === undefined) return;
    const got = serial[problem.key];
    throw new ArgumentError(
      `${file}: serial[${index}].${problem.key}: expected ${problem.expected}, got ${got === undefined ? "nothing" : JSON.stringify(got)}`,
    );
  });
  return result.output;
}

function toRunArgs(o: FileOptions): RunArgs {
  const args = emptyRunArgs();
  if (o.kernel !== undefined) args.kernel = o.kernel;
  if (o.bios !== undefined) args.bios = o.bios;
  if (o.initrd !== undefined) args.initrd = o.initrd;
  if (o.socket !== undefined) args.socket = o.socket;
  if (o["pivot-root"] !== undefined) args.pivotRoot = o["pivot-root"];
  if (o.mem !== undefined) args.mem = o.mem;
  if (o.cpus !== undefined) args.cpus = o.cpus;
  if (o["no-rng"] !== undefined) args.noRng = o["no-rng"];
  if (o.pvpanic !== undefined) args.pvpanic = o.pvpanic;
  if (o["disable-sandbox"] !== undefined) args.disableSandbox = o["disable-sandbox"];
  if (o["seccomp-log-failures"] !== undefined) args.seccompLogFailures = o["seccomp-log-failures"];
  args.params.push(...(o.params ?? []));
  args.serial.push(...(o.serial ?? []));
  args.block.push(...(o.block ?? []));
  return args;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArgumentError(`${file}: cannot read the configuration file (${code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ArgumentError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
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
  const options = validate(file, json);
  const inner = [...chain, { real, shown: file }];
  let merged = emptyRunArgs();
  for (const include of options.cfg) {
    const path = isAbsolute(include) ? include : join(dirname(file), include);
    merged = mergeRunArgs(merged, loadConfigFile(path, inner));
  }
  return mergeRunArgs(merged, toRunArgs(options));
}
