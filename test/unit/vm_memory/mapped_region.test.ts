// Regions mapped from a memfd, as the VMM and every device process map guest RAM (issue 13 item 1).
import { expect, test } from "bun:test";
import { close, ftruncate, MAX_NATIVE_VIEW, memfdCreate, MFD_CLOEXEC, viewOf } from "../../../ffi/libc.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { mapMemfdRegions, unmapRegions } from "../../../src/vm_memory/mapped_region.ts";
import { MAX_SLOT_BYTES, slotPieces } from "../../../src/hypervisor/vm.ts";

test("viewOf refuses more than 4 GiB with a line saying why, before JavaScriptCore's 'Out of memory'", () => {
  expect(() => viewOf(0x1000, MAX_NATIVE_VIEW + 4096)).toThrow(
    "cannot view 4294971392 bytes of native memory as one ArrayBuffer (at most 4 GiB)",
  );
});

test("two regions of one memfd, seen through 4 KiB views, share bytes with a second mapping", () => {
  const fd = memfdCreate("mapped_region_test", MFD_CLOEXEC);
  ftruncate(fd, 0x6000, "test memfd");
  const layout = [
    { guestAddr: 0, size: 0x2000, fdOffset: 0 },
    { guestAddr: 0x10000, size: 0x4000, fdOffset: 0x2000 },
  ];
  const a = new GuestMemory(mapMemfdRegions(fd, layout), fd, 0x1000);
  const b = new GuestMemory(mapMemfdRegions(fd, layout), fd);

  a.write(0x10000 + 0x100, new Uint8Array(0x3000).fill(7));
  a.writeU64(0x10000 + 0x2800 - 4, 0x0102_0304_0506_0708n);
  const seen = [b.readU64(0x10000 + 0x2800 - 4), b.readU8(0x10000 + 0x30ff), b.readU8(0x10000 + 0x3100)];
  unmapRegions(a.regions);
  unmapRegions(b.regions);
  close(fd);

  expect(seen).toEqual([0x0102_0304_0506_0708n, 7, 0]);
});

test("a region view outside the region is refused", () => {
  const fd = memfdCreate("mapped_region_test", MFD_CLOEXEC);
  ftruncate(fd, 0x1000, "test memfd");
  const [region] = mapMemfdRegions(fd, [{ guestAddr: 0, size: 0x1000, fdOffset: 0 }]);

  const outside = () => region!.view(0x800, 0x1000);

  expect(outside).toThrow(RangeError);
  unmapRegions([region!]);
  close(fd);
});

test("KVM memory slots: a 9 TiB region becomes 4 TiB, 4 TiB and 1 TiB slots (KVM_MEM_MAX_NR_PAGES)", () => {
  const tib = 2 ** 40;

  expect(slotPieces(9 * tib)).toEqual([
    { offset: 0, size: 4 * tib },
    { offset: 4 * tib, size: 4 * tib },
    { offset: 8 * tib, size: tib },
  ]);
  expect(MAX_SLOT_BYTES / 4096).toBeLessThanOrEqual(2 ** 31 - 1);
});
