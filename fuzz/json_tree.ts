// JSON documents as trees a fuzzer can change and then write as text: objects are lists of entries, so a key may
// appear twice or be "__proto__" (which a JavaScript object literal would turn into its prototype), and a scalar
// is its JSON text, so it may be a number no double holds exactly or one past the doubles' range.
import { HOSTILE_TEXTS, mutateText } from "./hostile_text.ts";
import { POLLUTION_MARKER } from "./prototype_watch.ts";
import type { Rng } from "./random.ts";

export type JsonNode =
  | { kind: "object"; entries: [string, JsonNode][] }
  | { kind: "array"; items: JsonNode[] }
  | { kind: "scalar"; text: string };

const scalar = (text: string): JsonNode => ({ kind: "scalar", text });

/** The tree of a JavaScript value; an object's own enumerable keys become its entries. */
export function toTree(value: unknown): JsonNode {
  if (Array.isArray(value)) return { kind: "array", items: value.map(toTree) };
  if (value !== null && typeof value === "object")
    return {
      kind: "object",
      entries: Object.keys(value).map((k) => [k, toTree((value as Record<string, unknown>)[k])]),
    };
  return scalar(JSON.stringify(value) ?? "null");
}

/** The document's text (iterative, so a tree nested a million deep renders too). */
export function render(node: JsonNode): string {
  const out: string[] = [];
  const stack: (JsonNode | string)[] = [node];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (typeof next === "string") out.push(next);
    else if (next.kind === "scalar") out.push(next.text);
    else if (next.kind === "array") {
      stack.push("]");
      for (let i = next.items.length - 1; i >= 0; i--) stack.push(next.items[i]!, i > 0 ? "," : "");
      out.push("[");
    } else {
      stack.push("}");
      for (let i = next.entries.length - 1; i >= 0; i--) {
        const [key, value] = next.entries[i]!;
        stack.push(value, `${i > 0 ? "," : ""}${JSON.stringify(key)}:`);
      }
      out.push("{");
    }
  }
  return out.join("");
}

/** Whether an object of the tree has a key twice. */
export function hasDuplicateKeys(node: JsonNode): boolean {
  if (node.kind === "scalar") return false;
  if (node.kind === "array") return node.items.some(hasDuplicateKeys);
  const keys = node.entries.map(([k]) => k);
  return new Set(keys).size !== keys.length || node.entries.some(([, v]) => hasDuplicateKeys(v));
}

/** Values nested `depth` deep, without recursion. */
function nested(depth: number, open: string, close: string, inner: string): JsonNode {
  return scalar(open.repeat(depth) + inner + close.repeat(depth));
}

/** A length or depth: mostly below `small`, now and then `huge`, far past what any file needs. */
function mostlySmall(rng: Rng, small: number, huge: number): number {
  return rng.chance(0.05) ? huge : rng.int(small) + 2;
}

/** Scalars and structures of the wrong type, size or depth for any key. */
function hostileValue(rng: Rng): JsonNode {
  switch (rng.int(6)) {
    case 0:
      return scalar(
        rng.pick([
          "null",
          "true",
          "0",
          "-1",
          "-0",
          "1.5",
          "1e400",
          "-1e400",
          "18446744073709551616",
          "9007199254740993",
          "[]",
          "{}",
        ]),
      );
    case 1:
      return scalar(JSON.stringify(rng.pick(HOSTILE_TEXTS)));
    case 2:
      return nested(mostlySmall(rng, 100, 200_000), "[", "]", "");
    case 3:
      return nested(mostlySmall(rng, 100, 20_000), '{"a":', "}", "1");
    case 4:
      return scalar(`[${"1,".repeat(mostlySmall(rng, 20, 100_000))}1]`);
    default:
      return scalar(JSON.stringify("x".repeat(mostlySmall(rng, 200, 1_000_000))));
  }
}

/** An entry that tries to reach a prototype, or a key of the wrong spelling. */
function strayEntry(rng: Rng, keys: readonly string[]): [string, JsonNode] {
  const marker: JsonNode = { kind: "object", entries: [[POLLUTION_MARKER, scalar("1")]] };
  switch (rng.int(4)) {
    case 0:
      return ["__proto__", marker];
    case 1:
      return ["constructor", { kind: "object", entries: [["prototype", marker]] }];
    case 2:
      return [rng.pick(keys), hostileValue(rng)];
    default:
      return [rng.pick(HOSTILE_TEXTS), hostileValue(rng)];
  }
}

/** Every node with a way to replace it in its parent (the root's replaces the whole tree). */
function slots(root: { node: JsonNode }): { node: JsonNode; set(n: JsonNode): void }[] {
  const out: { node: JsonNode; set(n: JsonNode): void }[] = [
    { node: root.node, set: (n) => (root.node = n) },
  ];
  for (let i = 0; i < out.length; i++) {
    const node = out[i]!.node;
    if (node.kind === "array")
      node.items.forEach((item, j) => out.push({ node: item, set: (n) => (node.items[j] = n) }));
    if (node.kind === "object")
      node.entries.forEach((entry) => out.push({ node: entry[1], set: (n) => (entry[1] = n) }));
  }
  return out;
}

/**
 * `tree` changed once in place (the new root is returned): a value replaced by a hostile one or wrapped in a
 * list, an object given a stray, repeated or prototype-reaching entry, a key misspelt or dropped. `keys` are
 * names worth repeating (the options').
 */
export function mutateTree(rng: Rng, tree: JsonNode, keys: readonly string[]): JsonNode {
  const root = { node: tree };
  const all = slots(root);
  const slot = rng.pick(all);
  const objects = all.map((s) => s.node).filter((n) => n.kind === "object");
  const object = objects.length > 0 ? rng.pick(objects) : undefined;
  switch (object === undefined ? rng.int(2) : rng.int(6)) {
    case 0:
      slot.set(hostileValue(rng));
      break;
    case 1:
      slot.set({ kind: "array", items: [slot.node] });
      break;
    case 2:
      object!.entries.splice(rng.int(object!.entries.length + 1), 0, strayEntry(rng, keys));
      break;
    case 3:
      if (object!.entries.length > 0) object!.entries.push([...rng.pick(object!.entries)]);
      break;
    case 4:
      if (object!.entries.length > 0) {
        const entry = rng.pick(object!.entries);
        entry[0] = mutateText(rng, entry[0]);
      }
      break;
    default:
      object!.entries.splice(rng.int(object!.entries.length), 1);
  }
  return root.node;
}
