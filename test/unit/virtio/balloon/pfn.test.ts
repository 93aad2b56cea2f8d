// Page frames from the inflate and deflate queues (virtio 1.2 5.5.6.1): le32 numbers of 4 KiB units, bounded
// against guest RAM, merged into memfd ranges.
import { describe, expect, test } from "bun:test";
import { decodePfns, memfdOffsetOf } from "../../../../src/devices/virtio/balloon/pfn.ts";
import { GuestMemory, type MemoryRegion } from "../../../../src/vm_memory/guest_memory.ts";

const MIB = 1 << 20;
const HUGE = 2 * MIB;

function pfnBytes(pfns: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * pfns.length);
  const v = new DataView(out.buffer);
  pfns.forEach((p, i) => v.setUint32(4 * i, p, true));
  return out;
}

/** Regions with the memfd offsets guest_ram.ts gives them: one memfd, regions back to back in it. */
function memfdLayout(layout: readonly { guestAddr: number; size: number; fdOffset: number }[]): GuestMemory {
  const regions: MemoryRegion[] = layout.map((r) => ({ ...r, hostAddr: 0, view: () => new Uint8Array(0) }));
  return new GuestMemory(regions);
}

/** 8 MiB below 4 GiB's hole stand-in at 0, and 4 MiB at 16 MiB, which lies after it in the memfd. */
const mem = memfdLayout([
  { guestAddr: 0, size: 8 * MIB, fdOffset: 0 },
  { guestAddr: 16 * MIB, size: 4 * MIB, fdOffset: 8 * MIB },
]);

describe("decodePfns", () => {
  test("a frame is a 4 KiB unit at frame << 12 in the memfd", () => {
    const d = decodePfns(mem, pfnBytes([3]));

    expect(d.ranges).toEqual([{ offset: 3 * 4096, length: 4096 }]);
    expect(d.accepted).toBe(1);
  });

  test("the 512 frames of a whole 2 MiB huge page become one 2 MiB range", () => {
    const first = HUGE / 4096;
    const d = decodePfns(mem, pfnBytes(Array.from({ length: 512 }, (_, i) => first + i)));

    expect(d.ranges).toEqual([{ offset: HUGE, length: HUGE }]);
  });

  test("frames inside a huge page give exactly their 4 KiB units, not the huge page", () => {
    const first = HUGE / 4096;
    const d = decodePfns(mem, pfnBytes([first + 10, first + 11, first + 12, first + 300]));

    expect(d.ranges).toEqual([
      { offset: HUGE + 10 * 4096, length: 3 * 4096 },
      { offset: HUGE + 300 * 4096, length: 4096 },
    ]);
  });

  test("a frame of the second region maps to that region's memfd offset", () => {
    const d = decodePfns(mem, pfnBytes([(16 * MIB) / 4096 + 1]));

    expect(d.ranges).toEqual([{ offset: 8 * MIB + 4096, length: 4096 }]);
  });

  test("frames of two regions that are consecutive in the memfd are one range of it", () => {
    const lastOfFirst = (8 * MIB) / 4096 - 1;
    const firstOfSecond = (16 * MIB) / 4096;
    const d = decodePfns(mem, pfnBytes([lastOfFirst, firstOfSecond]));

    expect(d.ranges).toEqual([{ offset: 8 * MIB - 4096, length: 8192 }]);
  });

  test("a frame outside guest RAM is refused and counted, the others are kept", () => {
    const inHole = (10 * MIB) / 4096;
    const d = decodePfns(mem, pfnBytes([1, inHole, 0xffff_ffff, 3]));

    expect(d.ranges).toEqual([
      { offset: 4096, length: 4096 },
      { offset: 3 * 4096, length: 4096 },
    ]);
    expect([d.accepted, d.refused, d.firstRefused]).toEqual([2, 2, inHole]);
  });

  test("a trailing partial entry is ignored", () => {
    const bytes = new Uint8Array([...pfnBytes([5]), 1, 2]);

    expect(decodePfns(mem, bytes).ranges).toEqual([{ offset: 5 * 4096, length: 4096 }]);
  });
});

describe("memfdOffsetOf", () => {
  test("a range straddling the end of a region is outside RAM", () => {
    expect(memfdOffsetOf(mem, 8 * MIB - 4096, 8192)).toBe(-1);
  });

  test("an empty, negative or unsafe range is outside RAM", () => {
    expect([
      memfdOffsetOf(mem, 0, 0),
      memfdOffsetOf(mem, -4096, 4096),
      memfdOffsetOf(mem, 2 ** 60, 4096),
    ]).toEqual([-1, -1, -1]);
  });
});
