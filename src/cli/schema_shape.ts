// What the valibot schemas of the options look like from the outside, so one schema serves both the command line
// (strings to coerce) and --cfg files (JSON values), and so errors can say which key and what was expected.
// Every schema of an option is built with its "expected ..." phrase as the valibot message (see option_specs.ts),
// so `issue.message` reads e.g. "a power of two >= 512".
import * as v from "valibot";

export type AnySchema = v.GenericSchema;
/** A strict object schema, possibly piped through object-wide checks (which keep its `entries`). */
export type OptionSchema = v.GenericSchema<unknown, Record<string, unknown>> & {
  readonly entries: v.ObjectEntries;
};

/** A key=value option: its name for messages, the key a leading value belongs to, alternate key spellings. */
export interface KeyValueSpec<S extends OptionSchema = OptionSchema> {
  /** "--block" on the command line. */
  readonly option: string;
  readonly schema: S;
  readonly firstKey?: string;
  /** Alternate spelling -> key, as serde's `alias` (block_size -> block-size). */
  readonly aliases?: Readonly<Record<string, string>>;
}

export type BaseKind = "boolean" | "number" | "string" | "picklist" | "array" | "other";

/** The schema under optional()/nullish() wrappers. */
export function unwrap(schema: AnySchema): AnySchema {
  let s: AnySchema = schema;
  while ("wrapped" in s && s.wrapped !== undefined) s = s.wrapped as AnySchema;
  return s;
}

export function baseKind(schema: AnySchema): BaseKind {
  const t = unwrap(schema).type;
  return t === "boolean" || t === "number" || t === "string" || t === "picklist" || t === "array"
    ? t
    : "other";
}

/** The item schema of an array schema. */
export function itemSchema(schema: AnySchema): AnySchema | undefined {
  const s = unwrap(schema);
  return "item" in s ? (s.item as AnySchema) : undefined;
}

/** Keys of an option, in declaration order. */
export function keysOf(spec: KeyValueSpec): string[] {
  return Object.keys(spec.schema.entries);
}

/** Maps an alias to its key; returns other names unchanged ("toString" is not an alias of anything). */
export function canonicalKey(spec: KeyValueSpec, key: string): string {
  return spec.aliases !== undefined && Object.hasOwn(spec.aliases, key) ? spec.aliases[key]! : key;
}

/** The schema of the option's key `key`, or undefined for a key it does not have (own keys only). */
export function keySchema(spec: KeyValueSpec, key: string): AnySchema | undefined {
  return Object.hasOwn(spec.schema.entries, key) ? (spec.schema.entries[key] as AnySchema) : undefined;
}

/** "missing" or "unknown" for a strict object's issue about one key; undefined for a value of the wrong type. */
export function keyIssueKind(issue: v.BaseIssue<unknown>): "missing" | "unknown" | undefined {
  if (issue.type !== "strict_object" && issue.type !== "object") return undefined;
  if (issue.expected === "never") return "unknown";
  return issue.received === "undefined" && issue.expected?.startsWith('"') ? "missing" : undefined;
}

/** The schema found by following `path` (object keys, array indices) from `schema`. */
export function schemaAt(schema: AnySchema, path: readonly unknown[]): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  for (const key of path) {
    if (s === undefined) return undefined;
    const inner = unwrap(s);
    if (typeof key === "number") s = itemSchema(inner);
    else s = "entries" in inner ? (inner.entries as Record<string, AnySchema>)[String(key)] : undefined;
  }
  return s;
}

/** The keys a strict object schema accepts, or [] for another schema. */
export function objectKeys(schema: AnySchema | undefined): string[] {
  if (schema === undefined) return [];
  const s = unwrap(schema);
  return "entries" in s ? Object.keys(s.entries as object) : [];
}

/** The value an issue is about: the key's value for an object-wide check reported at one key, else its input. */
export function issueValue(issue: v.BaseIssue<unknown>): unknown {
  return issue.type === "raw_check" ? issue.path?.at(-1)?.value : issue.input;
}

/** A key's help: its value placeholder and description (option_specs.ts `described`), and its default. */
export interface KeyHelp {
  readonly key: string;
  readonly placeholder: string;
  readonly description: string;
  /** The default as help shows it; undefined when the key has none. */
  readonly fallback: string | undefined;
}

interface KeyMetadata {
  placeholder?: string;
  defaultText?: string;
  description?: string;
}

function pipeMetadata(schema: AnySchema, out: KeyMetadata): void {
  if (!("pipe" in schema) || !Array.isArray(schema.pipe)) return;
  for (const item of schema.pipe as { kind: string; type: string }[]) {
    if (item.kind === "schema") pipeMetadata(item as unknown as AnySchema, out);
    else if (item.type === "description")
      out.description = (item as unknown as { description: string }).description;
    else if (item.type === "metadata")
      Object.assign(out, (item as unknown as { metadata: KeyMetadata }).metadata);
  }
}

/** The help of every key of `spec`, in declaration order. */
export function keyHelp(spec: KeyValueSpec): KeyHelp[] {
  return Object.entries(spec.schema.entries).map(([key, schema]) => {
    const inner = unwrap(schema);
    const meta: KeyMetadata = {};
    pipeMetadata(inner, meta);
    const options = (inner as { options?: unknown }).options;
    const placeholder =
      meta.placeholder || (Array.isArray(options) ? `(${options.join(",")})` : key.toUpperCase());
    const value =
      "default" in schema ? v.getDefault(schema as v.OptionalSchema<AnySchema, unknown>) : undefined;
    return {
      key,
      placeholder,
      description: meta.description ?? "",
      fallback: meta.defaultText ?? (value === undefined ? undefined : String(value)),
    };
  });
}
