import { ptr } from "bun:ffi";
import { expect, test } from "bun:test";
import { GuestMemory, GuestMemoryError } from "../../../src/vm_memory/guest_memory.ts";

const twoRegions = () =>
  GuestMemory.anonymous([
    { guestAddr: 0, size: 0x10000 },
    { guestAddr: 0x100000, size: 0x10000 },
  ]);

test("readU64Safe reads a little-endian u64 as a number", () => {
  const mem = twoRegions();
  mem.writeU64(0x100008, 0x1f_ffff_1234_5678n);

  expect(mem.readU64Safe(0x100008)).toBe(0x1f_ffff_1234_5678);
});

test("readU64Safe returns -1 for a value above 2^53 - 1", () => {
  const mem = twoRegions();
  mem.writeU64(8, 0x20_0000_0000_0000n);

  expect(mem.readU64Safe(8)).toBe(-1);
});

test("readU64Safe refuses a range outside RAM", () => {
  expect(() => twoRegions().readU64Safe(0xfffc)).toThrow(GuestMemoryError);
});

test("hostAddress points at the region's bytes for the guest address", () => {
  const mem = twoRegions();
  const region = mem.regions[1]!;

  expect(mem.hostAddress(0x100010, 16)).toBe(Number(ptr(region.view(0, 1))) + 0x10);
});

test("hostAddress is -1 for a range straddling two regions or outside RAM", () => {
  const mem = twoRegions();

  expect([mem.hostAddress(0xfff0, 0x20), mem.hostAddress(0x200000, 1), mem.hostAddress(-1, 1)]).toEqual([
    -1, -1, -1,
  ]);
});

test("locate and viewAt read what the byte accessors wrote", () => {
  const mem = twoRegions();
  mem.writeU32(0x100020, 0xdeadbeef);

  const i = mem.locate(0x100020, 4);

  expect(mem.viewAt(i).getUint32(0x100020 - mem.viewAddr(i), true)).toBe(0xdeadbeef);
});

test("accessors still find the first region after a lookup in the second", () => {
  const mem = twoRegions();
  mem.writeU16(0x100000, 1);
  mem.writeU16(0x10, 2);

  expect([mem.readU16(0x100000), mem.readU16(0x10), mem.locate(0x20000, 1)]).toEqual([1, 2, -1]);
});
