// Guest RAM is one memfd whose size is sealed before any device process receives it (issue 15 item 2), of any
// size the host allows (issue 13 item 1).
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  F_GET_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  fcntl,
  ftruncate,
  MADV_HUGEPAGE,
} from "../../../ffi/libc.ts";
import { guestRamRegions } from "../../../src/arch/x86_64/layout.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { mapMemfdRegions, unmapRegions } from "../../../src/vm_memory/mapped_region.ts";
import {
  createGuestRam,
  releaseGuestRam,
  SHMEM_THP_SETTING,
  shmemHugePagesRefused,
} from "../../../src/vmm/guest_ram.ts";

let memory: GuestMemory | undefined;
afterEach(() => {
  if (memory) releaseGuestRam(memory);
  memory = undefined;
});

test("the guest-RAM memfd carries F_SEAL_SHRINK and F_SEAL_GROW", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 1 << 16 }], { name: "seal_test" });

  expect(fcntl(memory.memfd, F_GET_SEALS, 0)).toBe(F_SEAL_SHRINK | F_SEAL_GROW);
});

test("shrinking or growing guest RAM fails with EPERM, even in the VMM", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 1 << 16 }], { name: "seal_test" });
  const fd = memory.memfd;

  expect(() => ftruncate(fd, 1 << 12, "guest RAM")).toThrow("EPERM");
  expect(() => ftruncate(fd, 1 << 20, "guest RAM")).toThrow("EPERM");
});

test("the constants are the uapi values (include/uapi/linux/fcntl.h)", () => {
  expect([F_GET_SEALS, F_SEAL_SHRINK, F_SEAL_GROW]).toEqual([1034, 0x0002, 0x0004]);
});

// Issue 13 item 1: RAM over 4 GiB. The memfd fills lazily, so these touch only the pages they write.
const GIB = 2 ** 30;

test("12 GiB of guest RAM is created; a u64 at the end of its 8.75 GiB high region reads back", () => {
  memory = createGuestRam(guestRamRegions(12 * GIB), { name: "big_test" });
  const last = memory.end - 8;

  memory.writeU64(last, 0x1122_3344_5566_7788n);

  expect(memory.readU64(last)).toBe(0x1122_3344_5566_7788n);
  expect(memory.size).toBe(12 * GIB);
});

test("u32s written across every view start of the high region read back, also through a second mapping", () => {
  memory = createGuestRam(guestRamRegions(12 * GIB), { name: "big_test" });
  const high = memory.regions[1]!;
  // Default views are 2 GiB and start every 1 GiB: write straddling each GiB boundary of the region.
  const addrs: number[] = [];
  for (let off = GIB; off < high.size; off += GIB) addrs.push(high.guestAddr + off - 2);
  addrs.forEach((a, i) => memory!.writeU32(a, 0xc0de_0000 + i));
  const second = new GuestMemory(mapMemfdRegions(memory.memfd, memory.regions), -1);

  const seen = addrs.map((a) => [memory!.readU32(a), second.readU32(a)]);
  unmapRegions(second.regions);

  expect(seen).toEqual(addrs.map((_, i) => [0xc0de_0000 + i, 0xc0de_0000 + i]));
});

test("a 3 GiB slice over several views of guest RAM is live at both ends", () => {
  memory = createGuestRam(guestRamRegions(12 * GIB), { name: "big_test" });
  const start = memory.regions[1]!.guestAddr + GIB / 2;

  const s = memory.slice(start, 3 * GIB);
  s[0] = 0xaa;
  s[3 * GIB - 1] = 0xbb;

  expect([memory.readU8(start), memory.readU8(start + 3 * GIB - 1)]).toEqual([0xaa, 0xbb]);
});

// Issue 13 item 2: --hugepages. /proc/self/smaps shows MADV_HUGEPAGE as "hg" in a mapping's VmFlags, whether or
// not the host's shmem huge pages are enabled.
function vmFlagsAt(hostAddr: number): string[] {
  const smaps = readFileSync("/proc/self/smaps", "utf8");
  const start = hostAddr.toString(16).padStart(8, "0");
  const at = smaps.split("\n").findIndex((line) => line.startsWith(`${start}-`));
  const flags = smaps
    .split("\n")
    .slice(at)
    .find((line) => line.startsWith("VmFlags:"));
  return flags?.slice("VmFlags:".length).trim().split(/\s+/) ?? [];
}

test("with hugepages every guest-RAM mapping is advised MADV_HUGEPAGE", () => {
  memory = createGuestRam(
    [
      { guestAddr: 0, size: 4 << 20 },
      { guestAddr: 1 << 30, size: 4 << 20 },
    ],
    { name: "huge_test", hugepages: true },
  );

  expect(memory.regions.map((r) => vmFlagsAt(r.hostAddr).includes("hg"))).toEqual([true, true]);
});

test("without hugepages guest RAM is not advised MADV_HUGEPAGE", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 4 << 20 }], { name: "small_test" });

  expect(vmFlagsAt(memory.regions[0]!.hostAddr)).not.toContain("hg");
});

test("MADV_HUGEPAGE is the uapi value (include/uapi/asm-generic/mman-common.h)", () => {
  expect(MADV_HUGEPAGE).toBe(14);
});

test("--hugepages gets huge pages where shmem_enabled chooses advise", () => {
  expect(shmemHugePagesRefused("always within_size [advise] never deny force")).toBeUndefined();
});

test("--hugepages does not warn where shmem_enabled chooses never: MADV_COLLAPSE still makes huge pages", () => {
  expect(shmemHugePagesRefused("always within_size advise [never] deny force")).toBeUndefined();
});

test("--hugepages warns where shmem_enabled chooses deny, and says how to allow huge pages", () => {
  expect(shmemHugePagesRefused("always within_size advise never [deny] force")).toContain(
    `"deny" (as root: echo advise > ${SHMEM_THP_SETTING})`,
  );
});

test("--hugepages warns where the host has no transparent huge pages", () => {
  expect(shmemHugePagesRefused(undefined)).toContain("is absent");
});
