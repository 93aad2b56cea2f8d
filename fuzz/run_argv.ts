// The command line of `crosvm run` from option values in their file form (run_option_values.ts), written in every
// spelling crosvm takes: --long value, --long=value, -s value, the deprecated forms; key=value lists with keys in
// any order, aliases, the first key's name left out, bare boolean keys, hex numbers and quoted strings; then
// mutated as a user's typing might: a token changed, an option or value dropped or repeated, unknown options.
import { formsOf } from "../src/cli/option_table.ts";
import { RUN_OPTIONS } from "../src/cli/run_options.ts";
import type { KeyValueSpec } from "../src/cli/schema_shape.ts";
import { HOSTILE_TEXTS, mutateText } from "./hostile_text.ts";
import type { Rng } from "./random.ts";
import { optionEntry } from "./run_option_values.ts";

const FORMS = formsOf(RUN_OPTIONS);

/** A value as its text after "key=": strings quoted when the syntax needs it, numbers sometimes in hex. */
function valueText(rng: Rng, value: unknown): string {
  if (typeof value === "number")
    return Number.isSafeInteger(value) && value >= 0 && rng.chance(0.3)
      ? `0x${value.toString(16)}`
      : String(value);
  if (typeof value !== "string") return String(value);
  if (value !== "" && !/[,"'[\]]/.test(value) && rng.chance(0.8)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The spelling of `key`: its own name, or one of its aliases now and then. */
function keyName(rng: Rng, spec: Pick<KeyValueSpec, "aliases">, key: string): string {
  const aliases = Object.entries(spec.aliases ?? {}).filter(([, name]) => name === key);
  return aliases.length > 0 && rng.chance(0.3) ? rng.pick(aliases)[0] : key;
}

function shuffled<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** `object` as crosvm's key=value list for `spec`, keys in any order. */
export function keyValueText(
  rng: Rng,
  spec: Pick<KeyValueSpec, "firstKey" | "aliases">,
  object: Record<string, unknown>,
): string {
  const parts: string[] = [];
  let keys = shuffled(rng, Object.keys(object));
  const first = spec.firstKey;
  if (first !== undefined && Object.hasOwn(object, first) && rng.chance(0.6)) {
    parts.push(valueText(rng, object[first]));
    keys = keys.filter((k) => k !== first);
  }
  for (const key of keys) {
    const name = keyName(rng, spec, key);
    const value = object[key];
    parts.push(value === true && rng.chance(0.5) ? name : `${name}=${valueText(rng, value)}`);
  }
  return parts.join(",");
}

/** --shared-dir's colon form, PATH:TAG[:key=value...]. */
function sharedDirText(rng: Rng, object: Record<string, unknown>): string {
  const { path = "", tag, ...rest } = object;
  const fields = [String(path), ...(tag === undefined ? [] : [String(tag)])];
  for (const [key, value] of Object.entries(rest)) fields.push(`${key}=${String(value)}`);
  return fields.join(":");
}

/** The command-line text of option `key` with `value`; undefined for a switch, which takes none. */
export function optionText(rng: Rng, key: string, value: unknown): string | undefined {
  const entry = optionEntry(key);
  if (entry.argName === undefined) return undefined;
  if (key === "shared-dir") return sharedDirText(rng, value as Record<string, unknown>);
  if (key === "input") {
    const [[type, keys]] = Object.entries(value as Record<string, Record<string, unknown>>) as [
      [string, Record<string, unknown>],
    ];
    return `${type}[${keyValueText(rng, {}, keys)}]`;
  }
  if (entry.keyValues !== undefined)
    return keyValueText(rng, entry.keyValues, value as Record<string, unknown>);
  return String(value);
}

/** `--key value` in one of the spellings of `key` (its own, short or deprecated form). */
export function optionArgs(rng: Rng, key: string, value: unknown): string[] {
  const form = rng.pick(FORMS.filter((f) => f.key === key));
  const name = form.short !== undefined && rng.chance(0.4) ? `-${form.short}` : `--${form.long}`;
  const text = optionText(rng, key, value);
  if (text === undefined) return [name];
  return rng.chance(0.3) ? [`${name}=${text}`] : [name, text];
}

/** An option name that is not one: a misspelling of a real one, or a hostile text after dashes. */
function unknownOption(rng: Rng): string {
  return rng.chance(0.5)
    ? `--${mutateText(rng, rng.pick(FORMS).long)}`
    : `${rng.pick(["-", "--"])}${rng.pick(HOSTILE_TEXTS)}`;
}

/** `text` with one of its comma-separated entries given twice. */
function repeatEntry(rng: Rng, text: string): string {
  const entries = text.split(",");
  const i = rng.int(entries.length);
  entries.splice(i, 0, entries[i]!);
  return entries.join(",");
}

/** `argv` changed once, as a user's mistake might change it. */
export function mutateArgv(rng: Rng, argv: string[]): string[] {
  const out = [...argv];
  const at = rng.int(out.length + 1);
  switch (rng.int(8)) {
    case 0:
    case 1:
      if (out.length > 0) {
        const i = rng.int(out.length);
        out[i] = mutateText(rng, out[i]!);
      }
      break;
    case 2:
      out.splice(at, 0, unknownOption(rng));
      break;
    case 3:
      out.splice(at, 1);
      break;
    case 4:
      out.splice(at, 0, ...out.slice(at, at + 2));
      break;
    case 5:
      out.splice(at, 0, rng.pick(["--", "-", "-h", "--help", "--cfg", "/extra/positional"]));
      break;
    case 6:
      if (out.length > 0) {
        const i = rng.int(out.length);
        out[i] = repeatEntry(rng, out[i]!);
      }
      break;
    default:
      // An option that takes a value, last: its value is missing.
      out.push(`--${rng.pick(FORMS.filter((f) => optionEntry(f.key).argName !== undefined)).long}`);
  }
  return out;
}
