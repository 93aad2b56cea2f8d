// Where a Linux direct boot writes first (src/vmm/kernel_boot.ts linuxBootWrites, issue 13 item 2): the ranges the
// collapser makes huge before the first KVM_RUN, most certain first.
import { expect, test } from "bun:test";
import { linuxBootWrites } from "../../../src/vmm/kernel_boot.ts";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const inMib = (ranges: { start: number; end: number }[]) => ranges.map((r) => [r.start / MIB, r.end / MIB]);

test("512 MiB with the initrd at the top: low tables, kernel, initrd, 16 MiB below the initrd, then upward from 16 MiB", () => {
  const writes = linuxBootWrites({
    ram: [{ start: 0, end: 512 * MIB }],
    kernel: { start: 16 * MIB, end: 80 * MIB },
    initrd: { addr: 500 * MIB, size: 11 * MIB },
  });

  // 512 MiB / 64 (the memmap) + 8 MiB of other early allocations = 16 MiB.
  expect(inMib(writes)).toEqual([
    [0, 1],
    [16, 80],
    [500, 511],
    [484, 500],
    [16, 512],
  ]);
});

test("without an initrd the early allocations are just below the top of RAM", () => {
  const writes = linuxBootWrites({
    ram: [{ start: 0, end: 1 * GIB }],
    kernel: { start: 16 * MIB, end: 80 * MIB },
  });

  expect(inMib(writes).slice(2)).toEqual([
    [1024 - 24, 1024],
    [16, 1024],
  ]);
});

test("with RAM above 4 GiB the allocations come from 4 GiB up, and memblock's from the top of RAM, not below a low initrd", () => {
  const writes = linuxBootWrites({
    ram: [
      { start: 4 * GIB, end: 12 * GIB },
      { start: 0, end: 3 * GIB },
    ],
    kernel: { start: 16 * MIB, end: 80 * MIB },
    initrd: { addr: 2 * GIB - 11 * MIB, size: 11 * MIB },
  });

  // 11 GiB / 64 = 176 MiB of memmap, + 8 MiB.
  expect(inMib(writes).slice(3)).toEqual([
    [12 * 1024 - 184, 12 * 1024],
    [4 * 1024, 12 * 1024],
  ]);
});
