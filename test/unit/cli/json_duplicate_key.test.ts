import { describe, expect, test } from "bun:test";
import { duplicateKeyPath } from "../../../src/cli/json_duplicate_key.ts";

describe("keys given twice in a JSON text", () => {
  test("a key written once plainly and once with an escape is the same key", () => {
    expect(duplicateKeyPath('{"ab": 1, "a\\u0062": 2}')).toEqual(["ab"]);
  });

  test("braces, quotes and backslashes inside strings do not end an object", () => {
    expect(duplicateKeyPath('{"a": "}{\\"a\\": \\\\", "b": {"a": 1}}')).toBeUndefined();
  });

  test("the same key in two objects of a list is not repeated", () => {
    expect(duplicateKeyPath('{"block": [{"path": "a"}, {"path": "b"}]}')).toBeUndefined();
  });

  test("a key given twice in a nested object is named with its path", () => {
    expect(duplicateKeyPath('{"x": [{"p": 1}, {"q": {"r": 1, "r": 2}}]}')).toEqual(["x", 1, "q", "r"]);
  });
});
