// Guest RAM is one memfd whose size is sealed before any device process receives it (issue 15 item 2).
import { afterEach, expect, test } from "bun:test";
import { F_GET_SEALS, F_SEAL_GROW, F_SEAL_SHRINK, fcntl, ftruncate } from "../../../ffi/libc.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { createGuestRam, releaseGuestRam } from "../../../src/vmm/guest_ram.ts";

let memory: GuestMemory | undefined;
afterEach(() => {
  if (memory) releaseGuestRam(memory);
  memory = undefined;
});

test("the guest-RAM memfd carries F_SEAL_SHRINK and F_SEAL_GROW", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 1 << 16 }], "seal_test");

  expect(fcntl(memory.memfd, F_GET_SEALS, 0)).toBe(F_SEAL_SHRINK | F_SEAL_GROW);
});

test("shrinking or growing guest RAM fails with EPERM, even in the VMM", () => {
  memory = createGuestRam([{ guestAddr: 0, size: 1 << 16 }], "seal_test");
  const fd = memory.memfd;

  expect(() => ftruncate(fd, 1 << 12, "guest RAM")).toThrow("EPERM");
  expect(() => ftruncate(fd, 1 << 20, "guest RAM")).toThrow("EPERM");
});

test("the constants are the uapi values (include/uapi/linux/fcntl.h)", () => {
  expect([F_GET_SEALS, F_SEAL_SHRINK, F_SEAL_GROW]).toEqual([1034, 0x0002, 0x0004]);
});
