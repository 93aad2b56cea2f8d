import { describe, expect, test } from "bun:test";
import {
  MSR_IA32_MISC_ENABLE,
  MSR_IA32_TSC,
  MSR_MTRRdefType,
  bootMsrs,
  isMtrrMsr,
  mtrrMsrs,
  mtrrRanges,
  variableMtrrCount,
} from "../../../src/arch/x86_64/msrs.ts";

const value = (index: number) => bootMsrs(46).find((m) => m.index === index)?.data;

describe("bootMsrs", () => {
  test("clears the syscall and sysenter MSRs", () => {
    for (const index of [
      0x174, 0x175, 0x176, 0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0102,
    ]) {
      expect(value(index)).toBe(0n);
    }
  });

  test("starts the TSC at 0", () => {
    expect(value(MSR_IA32_TSC)).toBe(0n);
  });

  test("enables fast strings in IA32_MISC_ENABLE", () => {
    expect(value(MSR_IA32_MISC_ENABLE)).toBe(1n);
  });

  test("makes write-back the default memory type with MTRRs on", () => {
    expect(value(MSR_MTRRdefType)).toBe(0x806n);
  });
});

describe("MTRRs", () => {
  test("cover 0xD000_0000..4 GiB with two naturally aligned ranges", () => {
    expect(mtrrRanges(0xd000_0000, 0x3000_0000)).toEqual([
      { base: 0xd000_0000, len: 0x1000_0000 },
      { base: 0xe000_0000, len: 0x2000_0000 },
    ]);
  });

  test("mark the PCI hole uncacheable with masks limited to the physical width", () => {
    const msrs = mtrrMsrs(36);
    expect(msrs.slice(0, 4)).toEqual([
      { index: 0x200, data: 0xd000_0000n },
      { index: 0x201, data: 0xf_f000_0800n },
      { index: 0x202, data: 0xe000_0000n },
      { index: 0x203, data: 0xf_e000_0800n },
    ]);
    expect(variableMtrrCount(msrs)).toBe(2);
  });

  test("isMtrrMsr recognises base/mask pairs and the default type", () => {
    expect([0x200, 0x3fe, 0x2ff, 0x1a0, 0x10].map(isMtrrMsr)).toEqual([true, true, true, false, false]);
  });
});
