import { describe, expect, test } from "bun:test";
import { KeyValueSyntaxError, parseKeyValues, type KvValue } from "../../../src/cli/keyvalue_syntax.ts";

const BLOCK_KEYS = new Set(["path", "ro", "root", "sparse", "block-size", "id", "direct"]);
const parse = (input: string) => parseKeyValues(input, "path", BLOCK_KEYS);
const text = (t: string, quoted = false): KvValue => ({ kind: "text", text: t, quoted });
const flag: KvValue = { kind: "flag" };

describe("crosvm key=value syntax (spec: Command-line options)", () => {
  test("explicit keys with values are split at commas", () => {
    const entries = parse("path=/path/to/bzImage,root=true,block-size=4096");
    expect(entries.map((e) => [e.key, e.value])).toEqual([
      ["path", text("/path/to/bzImage")],
      ["root", text("true")],
      ["block-size", text("4096")],
    ]);
  });

  test("a bare key is a flag", () => {
    const entries = parse("path=/path/to/bzImage,root,block-size=4096");
    expect(entries[1]).toMatchObject({ key: "root", value: flag });
  });

  test("a leading value without a key belongs to the first key", () => {
    const entries = parse("/path/to/bzImage,root,block-size=4096");
    expect(entries.map((e) => e.key)).toEqual(["path", "root", "block-size"]);
    expect(entries[0]!.value).toEqual(text("/path/to/bzImage"));
  });

  test("a leading relative file name that starts like an identifier is still the first value", () => {
    const entries = parse("disk.img,ro");
    expect(entries[0]).toMatchObject({ key: "path", value: text("disk.img") });
  });

  test("a leading known key is a flag, not the first value", () => {
    const entries = parse("ro,path=/d.img");
    expect(entries.map((e) => e.key)).toEqual(["ro", "path"]);
    expect(entries[0]!.value).toEqual(flag);
  });

  test('a double-quoted value keeps commas and unescapes \\" and \\\\', () => {
    const entries = parse('path="/a,b \\"c\\" \\\\d",ro');
    expect(entries[0]!.value).toEqual(text('/a,b "c" \\d', true));
    expect(entries[1]!.key).toBe("ro");
  });

  test("a single-quoted value keeps commas and backslashes", () => {
    const entries = parse("id='a,b\\c'");
    expect(entries[0]!.value).toEqual(text("a,b\\c", true));
  });

  test("an empty quoted value is an empty string", () => {
    expect(parse('id=""')[0]!.value).toEqual(text("", true));
  });

  test("a bracketed value is a list", () => {
    const entries = parseKeyValues("sizes=[256,512],x", undefined, new Set(["sizes", "x"]));
    expect(entries[0]!.value).toEqual({ kind: "list", items: [text("256"), text("512")] });
    expect(entries[1]!.key).toBe("x");
  });

  test("an empty input has no entries", () => {
    expect(parse("")).toEqual([]);
  });

  test("a trailing comma is accepted, as crosvm does", () => {
    expect(parse("/d.img,ro,").map((e) => e.key)).toEqual(["path", "ro"]);
  });

  test("a quote inside an unquoted value is refused", () => {
    expect(() => parse('path=a"b')).toThrow(`" and ' can only be used in quoted strings`);
  });

  test("an unterminated quote is refused", () => {
    expect(() => parse('path="abc')).toThrow("unterminated double-quoted string");
  });

  test("a key followed by something other than = or , is refused", () => {
    expect(() => parseKeyValues("ro:1", undefined, BLOCK_KEYS)).toThrow(`expected '=' after key "ro"`);
  });

  test("two commas in a row are refused with the position", () => {
    let error: unknown;
    try {
      parse("/d.img,,ro");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyValueSyntaxError);
    expect((error as KeyValueSyntaxError).pos).toBe(7);
  });

  test("key= with nothing after it is refused", () => {
    expect(() => parse("path=")).toThrow("expected a value");
  });

  test("an unclosed list is refused", () => {
    expect(() => parseKeyValues("a=[1,2", undefined, new Set(["a"]))).toThrow("expected ']'");
  });
});

describe("leading values that begin with a key's name", () => {
  test("a file named after a key (root.img) is the first value", () => {
    const entries = parseKeyValues("root.img,ro", "path", BLOCK_KEYS);
    expect(entries[0]).toMatchObject({ key: "path", value: text("root.img") });
  });
});
