import { describe, expect, test } from "bun:test";
import {
  BOOT_PARAMS_SIZE,
  BP,
  BootParamsError,
  HDR,
  HDRS_MAGIC,
  emptyBootParams,
  fillBootParams,
  readE820,
} from "../../../src/arch/x86_64/boot_params.ts";
import { LeBytes } from "../../../src/arch/x86_64/bytes.ts";
import { type E820Entry, e820Map } from "../../../src/arch/x86_64/e820.ts";
import { MIB } from "../../../src/arch/x86_64/layout.ts";

describe("fillBootParams", () => {
  test("marks the loader and points at the command line", () => {
    const params = emptyBootParams(2047);
    fillBootParams(params, { cmdlineAddr: 0x20000, e820: [] });
    const bp = new LeBytes(params);
    expect(bp.u8(HDR.type_of_loader)).toBe(0xff);
    expect(bp.u16(HDR.boot_flag)).toBe(0xaa55);
    expect(bp.u32(HDR.header)).toBe(HDRS_MAGIC);
    expect(bp.u32(HDR.cmd_line_ptr)).toBe(0x20000);
    expect(bp.u32(BP.ext_cmd_line_ptr)).toBe(0);
    expect(bp.u32(HDR.cmdline_size)).toBe(2047);
  });

  test("records an initrd above 4 GiB in the ext_ fields", () => {
    const params = emptyBootParams(2047);
    fillBootParams(params, { cmdlineAddr: 0x20000, e820: [], initrd: { addr: 0x1_2345_6000, size: 0x1000 } });
    const bp = new LeBytes(params);
    expect(bp.u32(HDR.ramdisk_image)).toBe(0x2345_6000);
    expect(bp.u32(BP.ext_ramdisk_image)).toBe(1);
    expect(bp.u32(HDR.ramdisk_size)).toBe(0x1000);
  });

  test("writes the e820 table at 0x2d0 with its count at 0x1e8", () => {
    const params = emptyBootParams(2047);
    const map = e820Map(512 * MIB);
    fillBootParams(params, { cmdlineAddr: 0x20000, e820: map });
    expect(params[0x1e8]).toBe(map.length);
    expect(new LeBytes(params).u64(0x2d0 + 20)).toBe(0xa0000n);
    expect(readE820(params)).toEqual(map);
  });

  test("refuses more than 128 e820 entries", () => {
    const many: E820Entry[] = Array.from({ length: 129 }, (_, i) => ({
      addr: i * 0x1000,
      size: 0x1000,
      type: 1,
    }));
    expect(() => fillBootParams(emptyBootParams(2047), { cmdlineAddr: 0, e820: many })).toThrow(
      BootParamsError,
    );
  });

  test("boot_params is one 4 KiB page", () => {
    expect(emptyBootParams(0).length).toBe(BOOT_PARAMS_SIZE);
    expect(BOOT_PARAMS_SIZE).toBe(4096);
  });
});
