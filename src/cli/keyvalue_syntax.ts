// The syntax of crosvm's option values (crosvm serde_keyvalue/src/key_values.rs):
//   entries  = entry ("," entry)* [","]         -- a trailing comma is accepted, as crosvm does
//   entry    = key ["=" value]                   -- a bare key is a boolean flag meaning true
//   key      = [A-Za-z0-9_] [A-Za-z0-9_-]*
//   value    = "[" [value ("," value)*] "]"      -- lists, e.g. max-queue-sizes=[256,256]
//            | '"' (char | '\"' | '\\')* '"'     -- double quotes escape only " and \
//            | "'" char* "'"                     -- single quotes escape nothing
//            | unquoted                          -- up to the next , [ ] and without quotes
// The first key may be left out: "/disk.img,ro" means "path=/disk.img,ro". crosvm decides this by peeking the
// first identifier: followed by "=" it is a key; equal to a known key it is a flag; otherwise the whole first
// value belongs to the first key. One deliberate difference: crosvm also takes a known key followed by anything
// else for a key, so "--block root.img" fails there with "expected '='"; here a known key is a flag only when a
// comma or the end follows it, and "root.img" is the path.

export type KvValue =
  | { readonly kind: "flag" }
  | { readonly kind: "text"; readonly text: string; readonly quoted: boolean }
  | { readonly kind: "list"; readonly items: readonly KvValue[] };

export interface KvEntry {
  readonly key: string;
  readonly value: KvValue;
  /** Offset of the entry in the input, for error messages. */
  readonly pos: number;
}

export class KeyValueSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly pos: number,
  ) {
    super(`${detail} at position ${pos}`);
  }
}

const IDENT_START = /[A-Za-z0-9_]/;
const IDENT_REST = /[A-Za-z0-9_-]/;

class Scanner {
  pos = 0;
  constructor(readonly input: string) {}

  peek(): string | undefined {
    return this.input[this.pos];
  }

  atSeparator(inList: boolean): boolean {
    const c = this.peek();
    return c === undefined || c === "," || (inList && c === "]");
  }

  identifierAt(pos: number): string | undefined {
    const first = this.input[pos];
    if (first === undefined || !IDENT_START.test(first)) return undefined;
    let end = pos + 1;
    while (end < this.input.length && IDENT_REST.test(this.input[end]!)) end++;
    return this.input.slice(pos, end);
  }

  identifier(): string {
    const ident = this.identifierAt(this.pos);
    if (ident === undefined) throw new KeyValueSyntaxError("expected a key", this.pos);
    this.pos += ident.length;
    return ident;
  }

  value(inList: boolean): KvValue {
    const c = this.peek();
    if (c === "[") return this.list();
    let v: KvValue;
    if (c === '"') v = this.doubleQuoted();
    else if (c === "'") v = this.singleQuoted();
    else v = this.unquoted();
    if (!this.atSeparator(inList)) {
      const next = this.peek();
      const detail =
        next === '"' || next === "'"
          ? `" and ' can only be used in quoted strings`
          : `expected ',' after a value, found '${next}'`;
      throw new KeyValueSyntaxError(detail, this.pos);
    }
    return v;
  }

  private list(): KvValue {
    this.pos++; // "["
    const items: KvValue[] = [];
    while (this.peek() !== "]") {
      if (this.peek() === undefined) throw new KeyValueSyntaxError("expected ']'", this.pos);
      items.push(this.value(true));
      if (this.peek() === ",") this.pos++;
    }
    this.pos++; // "]"
    return { kind: "list", items };
  }

  private doubleQuoted(): KvValue {
    const start = this.pos;
    this.pos++;
    let text = "";
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new KeyValueSyntaxError("unterminated double-quoted string", start);
      this.pos++;
      if (c === '"') return { kind: "text", text, quoted: true };
      if (c === "\\") {
        const escaped = this.peek();
        if (escaped !== '"' && escaped !== "\\")
          throw new KeyValueSyntaxError(
            `only \\" and \\\\ can be escaped in a double-quoted string`,
            this.pos,
          );
        this.pos++;
        text += escaped;
      } else text += c;
    }
  }

  private singleQuoted(): KvValue {
    const start = this.pos;
    const end = this.input.indexOf("'", start + 1);
    if (end < 0) throw new KeyValueSyntaxError("unterminated single-quoted string", start);
    this.pos = end + 1;
    return { kind: "text", text: this.input.slice(start + 1, end), quoted: true };
  }

  private unquoted(): KvValue {
    const start = this.pos;
    while (this.pos < this.input.length && !`,"'[]`.includes(this.input[this.pos]!)) this.pos++;
    if (this.pos === start) throw new KeyValueSyntaxError("expected a value", start);
    return { kind: "text", text: this.input.slice(start, this.pos), quoted: false };
  }
}

/**
 * Splits `input` into entries. `firstKey` names the key a leading value without "key=" belongs to (none: every
 * entry needs its key); `knownKeys` tells a leading bare flag ("ro,...") from a leading value ("disk.img,...").
 */
export function parseKeyValues(
  input: string,
  firstKey: string | undefined,
  knownKeys: ReadonlySet<string>,
): KvEntry[] {
  const s = new Scanner(input);
  const entries: KvEntry[] = [];
  if (firstKey !== undefined && s.peek() !== undefined) {
    const ident = s.identifierAt(0);
    const next = ident === undefined ? undefined : input[ident.length];
    const isKey =
      ident !== undefined && (next === "=" || (knownKeys.has(ident) && (next === "," || next === undefined)));
    const implicit = !isKey;
    if (implicit) {
      entries.push({ key: firstKey, value: s.value(false), pos: 0 });
      if (s.peek() === ",") s.pos++;
    }
  }
  while (s.peek() !== undefined) {
    const pos = s.pos;
    const key = s.identifier();
    let value: KvValue;
    if (s.peek() === "=") {
      s.pos++;
      value = s.value(false);
    } else if (s.atSeparator(false)) {
      value = { kind: "flag" };
    } else {
      throw new KeyValueSyntaxError(`expected '=' after key "${key}"`, s.pos);
    }
    entries.push({ key, value, pos });
    if (s.peek() === ",") s.pos++;
  }
  return entries;
}
