import { describe, expect, test } from "bun:test";
import { E820_RAM, E820_RESERVED, type E820Entry, e820Map } from "../../../src/arch/x86_64/e820.ts";
import { GIB, MIB } from "../../../src/arch/x86_64/layout.ts";

const ram = (addr: number, size: number): E820Entry => ({ addr, size, type: E820_RAM });
const reserved = (addr: number, size: number): E820Entry => ({ addr, size, type: E820_RESERVED });

describe("e820Map", () => {
  test("256 MiB: conventional RAM, the legacy hole, RAM from 1 MiB, then the reserved windows", () => {
    expect(e820Map(256 * MIB)).toEqual([
      ram(0, 0xa0000),
      reserved(0xa0000, 0x60000),
      ram(0x100000, 256 * MIB - 0x100000),
      reserved(0xf400_0000, 0x400_0000),
      reserved(0x1_0000_0000, 0x800_0000),
      reserved(0xfeff_c000, 0x4000),
    ]);
  });

  test("2 GiB: low RAM ends at 2 GiB", () => {
    const map = e820Map(2 * GIB);
    expect(map[2]).toEqual(ram(0x100000, 2 * GIB - 0x100000));
    expect(map.filter((e) => e.type === E820_RAM)).toHaveLength(2);
  });

  test("5 GiB: low RAM ends at the MMIO hole and the rest is above 4 GiB", () => {
    const map = e820Map(5 * GIB);
    expect(map[2]).toEqual(ram(0x100000, 0xd000_0000 - 0x100000));
    expect(map[3]).toEqual(ram(0x1_0000_0000, 5 * GIB - 0xd000_0000));
    const vcfg = map[5]!;
    expect(vcfg.type).toBe(E820_RESERVED);
    expect(vcfg.addr).toBeGreaterThanOrEqual(0x1_0000_0000 + 5 * GIB - 0xd000_0000);
  });

  test("RAM entries add up to the guest's memory size", () => {
    for (const size of [64 * MIB, 3 * GIB, 6 * GIB]) {
      const ramBytes = e820Map(size)
        .filter((e) => e.type === E820_RAM)
        .reduce((n, e) => n + e.size, 0);
      expect(ramBytes + 0x60000).toBe(size);
    }
  });

  test("no two entries overlap", () => {
    const map = [...e820Map(5 * GIB)].sort((a, b) => a.addr - b.addr);
    for (let i = 1; i < map.length; i++)
      expect(map[i]!.addr).toBeGreaterThanOrEqual(map[i - 1]!.addr + map[i - 1]!.size);
  });
});
