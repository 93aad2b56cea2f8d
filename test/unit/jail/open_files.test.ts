// raiseOpenFileLimit: a file-server device process may hold a descriptor per guest inode (src/jail/open_files.ts).
import { describe, expect, test } from "bun:test";
import { openFileLimit, raiseOpenFileLimit, RLIMIT_NOFILE } from "../../../src/jail/open_files.ts";

describe("raiseOpenFileLimit", () => {
  test("RLIMIT_NOFILE is 7 (include/uapi/asm-generic/resource.h)", () => {
    expect(RLIMIT_NOFILE).toBe(7);
  });

  test("the soft limit ends at least at the hard limit the process had", () => {
    const before = openFileLimit();

    const after = raiseOpenFileLimit();

    expect(after.soft).toBeGreaterThanOrEqual(before.hard);
    expect(after.soft).toBe(after.hard);
  });

  test("a ceiling below the hard limit never lowers it", () => {
    const before = openFileLimit();

    const after = raiseOpenFileLimit(16);

    expect(after.hard).toBe(before.hard);
  });
});
