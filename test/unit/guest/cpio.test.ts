import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpioNewc, withParentDirs, type CpioEntry } from "../../../scripts/guest/cpio.ts";

const text = (s: string) => new TextEncoder().encode(s);

async function archive(entries: CpioEntry[]): Promise<Uint8Array> {
  return new Blob(cpioNewc(entries)).bytes();
}

/** Unpacks with GNU cpio, an independent reader of the newc format. */
async function extract(bytes: Uint8Array): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "cpio-test-"));
  const proc = Bun.spawn(["cpio", "-idm", "--quiet"], { cwd: dir, stdin: bytes, stderr: "pipe" });
  expect(await proc.exited).toBe(0);
  return dir;
}

test("entries start with the newc magic and a 110-byte header padded to 4 bytes", async () => {
  const bytes = await archive([{ kind: "file", path: "a", data: text("xyz") }]);

  expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe("070701");
  // header 110 + "a\0" = 112 (aligned), then 3 data bytes and one pad byte before the trailer's header.
  expect(new TextDecoder().decode(bytes.subarray(112, 115))).toBe("xyz");
  expect(new TextDecoder().decode(bytes.subarray(116, 122))).toBe("070701");
  expect(bytes.length % 4).toBe(0);
});

test("archive ends with the TRAILER!!! entry", async () => {
  const bytes = await archive([]);

  expect(new TextDecoder().decode(bytes)).toContain("TRAILER!!!\0");
});

test("GNU cpio unpacks files, modes, directories and symlinks as written", async () => {
  const bytes = await archive(
    withParentDirs([
      { kind: "file", path: "/bin/tool", data: text("#!/bin/sh\n"), mode: 0o755 },
      { kind: "symlink", path: "usr/bin/alias", target: "/bin/tool" },
      { kind: "dir", path: "empty" },
    ]),
  );
  const dir = await extract(bytes);
  try {
    expect(readFileSync(join(dir, "bin/tool"), "utf8")).toBe("#!/bin/sh\n");
    expect(statSync(join(dir, "bin/tool")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, "usr/bin/alias"))).toBe("/bin/tool");
    expect(statSync(join(dir, "empty")).isDirectory()).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("character devices carry their major and minor numbers", async () => {
  const bytes = await archive([{ kind: "chardev", path: "dev/console", major: 5, minor: 1 }]);
  const listing = Bun.spawnSync(["cpio", "-tv", "--quiet"], { stdin: bytes }).stdout.toString();

  expect(listing).toMatch(/^c.*5,\s*1 .*dev\/console$/m);
});

test("withParentDirs declares each missing parent once, before its children", () => {
  const entries = withParentDirs([
    { kind: "file", path: "a/b/c", data: text("") },
    { kind: "file", path: "a/b/d", data: text("") },
  ]);

  expect(entries.map((e) => `${e.kind}:${e.path}`)).toEqual(["dir:a", "dir:a/b", "file:a/b/c", "file:a/b/d"]);
});

test("an entry named like the trailer is refused", () => {
  expect(() => cpioNewc([{ kind: "dir", path: "TRAILER!!!" }])).toThrow(/not allowed/);
});
