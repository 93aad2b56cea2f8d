import { describe, expect, test } from "bun:test";
import { GuestMemory, GuestMemoryError } from "../../../src/vm_memory/guest_memory.ts";

function twoRegions(): GuestMemory {
  return GuestMemory.anonymous([
    { guestAddr: 0, size: 0x1000 },
    { guestAddr: 0x10000, size: 0x1000 },
  ]);
}

describe("GuestMemory", () => {
  test("a value written at an address reads back little-endian", () => {
    const mem = twoRegions();

    mem.writeU32(0x10010, 0x11223344);

    expect(mem.readU8(0x10010)).toBe(0x44);
    expect(mem.readU32(0x10010)).toBe(0x11223344);
  });

  test("64-bit values round-trip as bigint", () => {
    const mem = twoRegions();

    mem.writeU64(0x8, 0xfedcba9876543210n);

    expect(mem.readU64(0x8)).toBe(0xfedcba9876543210n);
  });

  test("slice is a live view of guest bytes", () => {
    const mem = twoRegions();
    const view = mem.slice(0x100, 4);

    view.set([1, 2, 3, 4]);

    expect(mem.readU32(0x100)).toBe(0x04030201);
  });

  test("a range in the gap between regions is refused with its address", () => {
    const mem = twoRegions();

    expect(() => mem.slice(0x2000, 4)).toThrow(GuestMemoryError);
    expect(() => mem.slice(0x2000, 4)).toThrow("0x2000+0x4 is outside guest RAM");
  });

  test("a range straddling the end of a region is refused", () => {
    const mem = twoRegions();

    expect(mem.isValidRange(0xffe, 4)).toBe(false);
    expect(() => mem.readU32(0xffe)).toThrow(GuestMemoryError);
  });

  test("negative, fractional and huge addresses are refused, never wrapped", () => {
    const mem = twoRegions();

    expect(mem.trySlice(-1, 1)).toBeUndefined();
    expect(mem.trySlice(1.5, 1)).toBeUndefined();
    expect(mem.trySlice(2 ** 64, 1)).toBeUndefined();
    expect(mem.trySlice(0, -1)).toBeUndefined();
  });

  test("size and end describe the regions", () => {
    const mem = twoRegions();

    expect(mem.size).toBe(0x2000);
    expect(mem.end).toBe(0x11000);
  });

  test("overlapping regions are refused at construction", () => {
    expect(() =>
      GuestMemory.anonymous([
        { guestAddr: 0, size: 0x2000 },
        { guestAddr: 0x1000, size: 0x1000 },
      ]),
    ).toThrow("overlap");
  });
});
