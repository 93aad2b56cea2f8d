import { describe, expect, test } from "bun:test";
import { printableAscii } from "../../../src/base/printable.ts";

describe("printableAscii", () => {
  test("printable ASCII is kept as it is", () => {
    expect(printableAscii("virtio-block: sector 7 ~ok")).toBe("virtio-block: sector 7 ~ok");
  });

  test("newlines, tabs and carriage returns become \\n, \\t and \\r", () => {
    expect(printableAscii("a\nb\tc\rd")).toBe("a\\nb\\tc\\rd");
  });

  test("control characters and Latin-1 become \\xHH, the rest \\u{...}", () => {
    expect(printableAscii("\x1b[31m\x00\x7f\xe9\u202e😀")).toBe(
      "\\x1b[31m\\x00\\x7f\\xe9\\u{202e}\\u{1f600}",
    );
  });

  test("a backslash is doubled, so an escape in the output always stands for one input character", () => {
    expect(printableAscii("\\n")).toBe("\\\\n");
  });

  test("text longer than the limit is cut with ...", () => {
    expect(printableAscii("x".repeat(10), 4)).toBe("xxxx...");
    expect(printableAscii("\n".repeat(10), 4)).toBe("\\n\\n...");
  });
});
