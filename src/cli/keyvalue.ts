// One parser for every key=value option of the command line (crosvm's serde_keyvalue `from_key_values`): the
// syntax comes from keyvalue_syntax.ts, the keys, types, defaults and checks from the option's valibot schema,
// which --cfg files share. Errors are one line naming the option, the key and what was expected:
//   --block: key "block-size" expects a power of two >= 512, got "1000"
import * as v from "valibot";
import { ArgumentError } from "./errors.ts";
import { KeyValueSyntaxError, parseKeyValues, type KvValue } from "./keyvalue_syntax.ts";
import {
  baseKind,
  canonicalKey,
  issueValue,
  itemSchema,
  keyIssueKind,
  keySchema,
  keysOf,
  unwrap,
  type AnySchema,
  type KeyValueSpec,
  type OptionSchema,
} from "./schema_shape.ts";
import { describeValue } from "../base/shown_value.ts";

/** crosvm's integers: optional "-", optional 0x/0o/0b radix prefix, digits (key_values.rs `any_number`). */
export function parseIntegerText(text: string): number | undefined {
  const m = /^(-?)(0x|0o|0b)?([0-9A-Za-z]+)$/.exec(text);
  if (!m) return undefined;
  const radix = m[2] === "0x" ? 16 : m[2] === "0o" ? 8 : m[2] === "0b" ? 2 : 10;
  const digits = m[3]!.toLowerCase();
  const valid = "0123456789abcdef".slice(0, radix);
  if (![...digits].every((c) => valid.includes(c))) return undefined;
  const prefix = radix === 16 ? "0x" : radix === 8 ? "0o" : radix === 2 ? "0b" : "";
  const value = BigInt(prefix + digits) * (m[1] === "-" ? -1n : 1n);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(value);
}

function describeRaw(value: KvValue): string {
  if (value.kind === "flag") return "no value";
  if (value.kind === "list") return "a list";
  return JSON.stringify(value.text);
}

/** Turns one syntactic value into the JS value the key's schema takes; undefined if it cannot. */
function coerce(value: KvValue, schema: AnySchema): unknown {
  const kind = baseKind(schema);
  if (kind === "array") {
    const item = itemSchema(schema)!;
    return value.kind === "list" ? value.items.map((i) => coerce(i, item)) : undefined;
  }
  if (value.kind === "list") return undefined;
  if (kind === "boolean") {
    if (value.kind === "flag") return true;
    return value.text === "true" ? true : value.text === "false" ? false : undefined;
  }
  if (value.kind === "flag") return undefined;
  if (kind === "number") return parseIntegerText(value.text);
  return value.text;
}

function expectedOfKind(schema: AnySchema): string {
  const s = unwrap(schema);
  switch (baseKind(schema)) {
    case "boolean":
      return "a boolean (true or false, or the bare key for true)";
    case "number":
    case "picklist": {
      // The schema's own "expected ..." message, e.g. "a power of two >= 512".
      const message = (s as { message?: unknown }).message;
      return typeof message === "string" ? message : "an integer";
    }
    case "array":
      return "a list [a,b,...]";
    default:
      return "a value";
  }
}

function keyList(spec: KeyValueSpec): string {
  return keysOf(spec).join(", ");
}

/** Parses `input`, the value of option `spec.option`, into the schema's output (defaults filled in). */
export function decodeKeyValues<S extends OptionSchema>(
  spec: KeyValueSpec<S>,
  input: string,
): v.InferOutput<S> {
  const fail = (what: string): never => {
    throw new ArgumentError(`${spec.option}: ${what}`);
  };
  const known = new Set([...keysOf(spec), ...Object.keys(spec.aliases ?? {})]);
  let entries;
  try {
    entries = parseKeyValues(input, spec.firstKey, known);
  } catch (e) {
    if (!(e instanceof KeyValueSyntaxError)) throw e;
    return fail(`invalid value ${JSON.stringify(input)}: ${e.detail} at position ${e.pos}`);
  }

  const object: Record<string, unknown> = {};
  const raw = new Map<string, string>();
  for (const entry of entries) {
    const key = canonicalKey(spec, entry.key);
    const schema = keySchema(spec, key);
    if (schema === undefined) return fail(`unknown key "${entry.key}" (expected one of: ${keyList(spec)})`);
    if (Object.hasOwn(object, key)) return fail(`key "${key}" is given more than once`);
    const value = coerce(entry.value, schema);
    if (value === undefined)
      return fail(`key "${key}" expects ${expectedOfKind(schema)}, got ${describeRaw(entry.value)}`);
    object[key] = value;
    raw.set(key, describeRaw(entry.value));
  }

  const result = v.safeParse(spec.schema, object);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const key = String(issue.path?.[0]?.key ?? "");
  if (keyIssueKind(issue) === "missing") return fail(`key "${key}" is required`);
  // A rule across keys (serial's num for hardware=serial) shows the key's decoded value; others the text given.
  const got = issue.type === "raw_check" ? describeValue(issueValue(issue)) : raw.get(key);
  return fail(`key "${key}" expects ${issue.message}, got ${got ?? describeValue(issue.input)}`);
}
