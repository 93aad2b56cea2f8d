import { expect, test } from "bun:test";
import { cleanReadOnlyMappings } from "../../../src/jail/device_process/startup_pages.ts";

const EXE = "/usr/bin/crosvm";

/** One /proc/PID/smaps entry (proc(5)); only the fields the parser reads besides filler. */
function mapping(range: string, perms: string, name: string, anonymousKiB: number): string {
  return [
    `${range} ${perms} 00000000 fe:00 5310956                            ${name}`.trimEnd(),
    "Size:              24804 kB",
    "Rss:                6820 kB",
    `Anonymous:         ${String(anonymousKiB).padStart(5)} kB`,
    "VmFlags: rd mr mw me sd",
  ].join("\n");
}

test("read-only and executable mappings of the executable without anonymous pages are listed", () => {
  const smaps = [
    mapping("00200000-01a39000", "r--p", EXE, 0),
    mapping("01a40000-0684a000", "r-xp", EXE, 0),
  ].join("\n");

  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([
    { start: 0x200000, length: 0x1a39000 - 0x200000 },
    { start: 0x1a40000, length: 0x684a000 - 0x1a40000 },
  ]);
});

test("a read-only mapping holding copied-on-write pages (relocated RELRO) is left alone", () => {
  const smaps = mapping("0685f000-06867000", "r--p", EXE, 32);

  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([]);
});

test("writable mappings of the executable are left alone", () => {
  const smaps = mapping("06867000-06ba2000", "rw-p", EXE, 0);

  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([]);
});

test("mappings of other files and anonymous mappings are left alone", () => {
  const smaps = [
    mapping("7f1a7375a000-7f1a738b0000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0),
    mapping("7f1900000000-7f1a00000000", "r--p", "", 0),
    mapping("7ffc48809000-7ffc4882a000", "r--p", "[vvar]", 0),
  ].join("\n");

  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([]);
});

test("shared mappings of the executable are left alone", () => {
  const smaps = mapping("00200000-01a39000", "r--s", EXE, 0);

  expect(cleanReadOnlyMappings(smaps, EXE)).toEqual([]);
});
