import { describe, expect, test } from "bun:test";
import {
  FIRST_ADDR_PAST_32BITS,
  GIB,
  MIB,
  MemoryLayoutError,
  guestRamRegions,
  highMmioStart,
  pcieVcfgRange,
} from "../../../src/arch/x86_64/layout.ts";

describe("guestRamRegions", () => {
  test("256 MiB is one region at address 0", () => {
    expect(guestRamRegions(256 * MIB)).toEqual([{ guestAddr: 0, size: 256 * MIB }]);
  });

  test("4 GiB stops at 0xD000_0000 and continues at 4 GiB", () => {
    expect(guestRamRegions(4 * GIB)).toEqual([
      { guestAddr: 0, size: 0xd000_0000 },
      { guestAddr: FIRST_ADDR_PAST_32BITS, size: 4 * GIB - 0xd000_0000 },
    ]);
  });

  test("5 GiB puts everything past 0xD000_0000 above 4 GiB", () => {
    const regions = guestRamRegions(5 * GIB);
    expect(regions).toEqual([
      { guestAddr: 0, size: 0xd000_0000 },
      { guestAddr: FIRST_ADDR_PAST_32BITS, size: 5 * GIB - 0xd000_0000 },
    ]);
    expect(regions.reduce((n, r) => n + r.size, 0)).toBe(5 * GIB);
  });

  test("exactly 0xD000_0000 bytes needs no high region", () => {
    expect(guestRamRegions(0xd000_0000)).toHaveLength(1);
  });

  test("a size that is not whole pages is refused", () => {
    expect(() => guestRamRegions(256 * MIB + 1)).toThrow(MemoryLayoutError);
  });

  test("a size below 2 MiB is refused", () => {
    expect(() => guestRamRegions(1 * MIB)).toThrow(/at least 2 MiB/);
  });
});

describe("windows past RAM", () => {
  test("the virtual config window starts at 4 GiB when RAM ends below it", () => {
    expect(pcieVcfgRange(256 * MIB)).toEqual({ start: FIRST_ADDR_PAST_32BITS, size: 128 * MIB });
  });

  test("the virtual config window starts at the 2 MiB boundary past high RAM", () => {
    const end = FIRST_ADDR_PAST_32BITS + (5 * GIB - 0xd000_0000);
    expect(pcieVcfgRange(5 * GIB).start).toBe(Math.ceil(end / (2 * MIB)) * 2 * MIB);
  });

  test("high MMIO begins after the virtual config window", () => {
    expect(highMmioStart(256 * MIB)).toBe(FIRST_ADDR_PAST_32BITS + 128 * MIB);
  });
});
