// Plausible values for the options of `crosvm run`, read from the option table (RUN_OPTIONS) so a new option or
// key is fuzzed without a change here: each value in its --cfg file form (a key=value option as an object, --input
// as {"TYPE": {...}}), which run_argv.ts renders for the command line. Keys get values that often pass their
// checks, so the fuzzers reach the rules across keys and options as well as the refusals of single values.
import { INPUT_TYPE_SCHEMAS } from "../src/cli/input_option.ts";
import type { AnyEntry } from "../src/cli/option_table.ts";
import { RUN_OPTIONS } from "../src/cli/run_options.ts";
import type * as v from "valibot";
import { baseKind, unwrap, type AnySchema } from "../src/cli/schema_shape.ts";
import { INTERESTING_U32, type Rng } from "./random.ts";

export const OPTION_KEYS = Object.keys(RUN_OPTIONS) as readonly (keyof typeof RUN_OPTIONS)[];

export function optionEntry(key: string): AnyEntry {
  return (RUN_OPTIONS as Record<string, AnyEntry>)[key]!;
}

/** A directory that exists, for --shared-dir and the like. */
const EXISTING_DIR = "/tmp";

/** Values that fit keys and options by name; other strings are paths. */
const STRINGS: Readonly<Record<string, readonly string[]>> = {
  tag: ["share", "my_tag", "t"],
  mac: ["52:54:00:12:34:56", "52:54:00:12:34:57"],
  "host-ip": ["192.168.10.1"],
  netmask: ["255.255.255.0", "255.255.0.0"],
  "tap-name": ["crosvm_tap", "tap0"],
  "tap-fd": ["3", "7"],
  uidmap: ["0 0 1", "0 1000 1,1 2000 10"],
  gidmap: ["0 0 1"],
  id: ["DISK1", "x"],
  name: ["mytouch", "n"],
  params: ["init=/bin/sh", "console=ttyS0", "root=/dev/vda"],
  gdb: ["1234", "65535"],
  path: ["/tmp/fuzz.img", "disk.img", EXISTING_DIR],
  // Files that are not there, or not a file: a readable one would be read as JSON.
  cfg: ["/nonexistent-fuzz/vm.json", EXISTING_DIR],
};

const NUMBERS: Readonly<Record<string, readonly number[]>> = {
  "block-size": [512, 4096, 1000],
  num: [1, 2, 3, 4, 5],
  size: [64, 256, 2048],
  "num-cores": [1, 2, 4, 255],
  "vq-pairs": [1, 2, 4],
  "debugcon-port": [0x402, 0xe9],
  timeout: [0, 5],
  uid: [0, 1000],
  gid: [0, 1000],
  cid: [3, 4, 0xfffffffe],
  "tap-fd": [3, 4],
  "vma-size": [4096, 2 ** 21],
  width: [800, 1920],
  height: [600, 1080],
  "pci-hotplug-slots": [0, 1, 3],
  "balloon-bias-mib": [-128, 0, 128],
  "init-mem": [64, 128, 256],
  "vhost-vsock-fd": [0, 5],
};

/** Numbers that are out of range, negative or past 2^53, for any key. */
const ODD_NUMBERS = [-1, -(2 ** 31), 2 ** 53, 2 ** 64, ...INTERESTING_U32] as const;

function plausibleNumber(rng: Rng, name: string): number {
  const fitting = NUMBERS[name];
  return fitting && rng.chance(0.85) ? rng.pick(fitting) : rng.pick(ODD_NUMBERS);
}

function plausibleString(rng: Rng, name: string): string {
  return rng.pick(STRINGS[name] ?? STRINGS.path!);
}

/** A value for a key whose schema is `schema`. */
function keyValue(rng: Rng, name: string, schema: AnySchema): unknown {
  switch (baseKind(schema)) {
    case "boolean":
      return rng.chance(0.6);
    case "number":
      return plausibleNumber(rng, name);
    case "picklist":
      return rng.pick((unwrap(schema) as unknown as { options: readonly string[] }).options);
    default:
      return plausibleString(rng, name);
  }
}

function isRequired(schema: AnySchema): boolean {
  return schema.type !== "optional" && schema.type !== "nullish";
}

/** Keys no option has: the names of JavaScript's own object properties, and misspellings. */
const STRAY_KEYS = [
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "prototype",
  "PATH",
  "blocksize",
];

/**
 * An object of some of the option's keys: a required key mostly, the others now and then, and sometimes a stray
 * key (an own property even when it is "__proto__").
 */
export function keyValueObject(rng: Rng, { entries }: { entries: v.ObjectEntries }): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(entries)) {
    if (rng.chance(isRequired(schema) ? 0.9 : 0.25)) object[key] = keyValue(rng, key, schema);
  }
  if (rng.chance(0.1))
    Object.defineProperty(object, rng.pick(STRAY_KEYS), {
      value: rng.pick([true, 1, "x"]),
      enumerable: true,
    });
  return object;
}

function inputValue(rng: Rng): Record<string, unknown> {
  const type = rng.pick(Object.keys(INPUT_TYPE_SCHEMAS)) as keyof typeof INPUT_TYPE_SCHEMAS;
  return { [type]: keyValueObject(rng, INPUT_TYPE_SCHEMAS[type]) };
}

/** One plausible value of option `key` in its file form (a switch: true or false). */
export function plausibleValue(rng: Rng, key: string): unknown {
  const entry = optionEntry(key);
  if (key === "input") return inputValue(rng);
  if (entry.keyValues !== undefined) return keyValueObject(rng, entry.keyValues.schema);
  if (entry.argName === undefined) return rng.chance(0.8);
  if (entry.file !== undefined && baseKind(entry.file as AnySchema) === "number")
    return plausibleNumber(rng, key);
  return STRINGS[key] ? plausibleString(rng, key) : (entry.example ?? plausibleString(rng, "path"));
}
