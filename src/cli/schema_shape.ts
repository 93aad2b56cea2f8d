// What the valibot schemas of the options look like from the outside, so one schema serves both the command line
// (strings to coerce) and --cfg files (JSON values), and so errors can say which key and what was expected.
// Every schema of an option is built with its "expected ..." phrase as the valibot message (see option_specs.ts),
// so `issue.message` reads e.g. "a power of two >= 512".
import type * as v from "valibot";

export type AnySchema = v.GenericSchema;
export type OptionSchema = v.StrictObjectSchema<v.ObjectEntries, undefined>;

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

/** Maps an alias to its key; returns other names unchanged. */
export function canonicalKey(spec: KeyValueSpec, key: string): string {
  return spec.aliases?.[key] ?? key;
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
