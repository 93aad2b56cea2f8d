// Inflating gives pages back through fallocate(PUNCH_HOLE|KEEP_SIZE) on the guest-RAM memfd, which is sealed
// against shrinking and growing only (guest_ram.ts): the punch is allowed, the memfd keeps its size, the pages
// read as zeros and the memfd holds fewer blocks.
import { afterEach, expect, test } from "bun:test";
import { fstatSync } from "node:fs";
import { punchHoles } from "../../../../src/devices/virtio/balloon/device.ts";
import { GuestMemory } from "../../../../src/vm_memory/guest_memory.ts";
import { createGuestRam, releaseGuestRam } from "../../../../src/vmm/guest_ram.ts";

const MIB = 1 << 20;
let ram: GuestMemory | undefined;
afterEach(() => {
  if (ram) releaseGuestRam(ram);
  ram = undefined;
});

test("punching inflated pages of a sealed guest-RAM memfd frees them and keeps its size", () => {
  ram = createGuestRam([{ guestAddr: 0, size: 4 * MIB }], { name: "balloon_test" });
  ram.slice(0, 4 * MIB).fill(0x5a);
  const before = fstatSync(ram.memfd);

  punchHoles(ram, [{ offset: MIB, length: 2 * MIB }]);

  const after = fstatSync(ram.memfd);
  expect(after.size).toBe(before.size);
  expect(before.blocks * 512 - after.blocks * 512).toBe(2 * MIB);
  expect(ram.readU8(MIB)).toBe(0);
  expect(ram.readU8(3 * MIB - 1)).toBe(0);
  expect(ram.readU8(MIB - 1)).toBe(0x5a);
  expect(ram.readU8(3 * MIB)).toBe(0x5a);
});

test("memory with no memfd (anonymous test memory) is refused rather than silently kept", () => {
  const anon = GuestMemory.anonymous([{ guestAddr: 0, size: MIB }]);

  expect(() => punchHoles(anon, [{ offset: 0, length: 4096 }])).toThrow("no memfd");
});
