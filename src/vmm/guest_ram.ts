// Guest RAM for a real VM: one memfd holding every region back to back, each region mapped MAP_SHARED so that
// device processes can later map the same pages from the same memfd (spec: "Guest memory" in architecture.md).
// The memfd is sealed against shrinking and growing before anyone else receives it: a compromised device process
// that truncated it would make every mapping of the lost pages fault with SIGBUS, in its siblings and in the VMM.
import {
  close,
  F_ADD_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  fcntl,
  ftruncate,
  memfdCreate,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
} from "../../ffi/libc.ts";
import { GuestMemory } from "../vm_memory/guest_memory.ts";
import { mapMemfdRegions, unmapRegions } from "../vm_memory/mapped_region.ts";

export interface RegionSpec {
  readonly guestAddr: number;
  readonly size: number;
}

/** The seals on guest RAM: its size is fixed (ftruncate and growing writes fail with EPERM). */
export const GUEST_RAM_SEALS = F_SEAL_SHRINK | F_SEAL_GROW;

/** Creates the memfd, sizes and seals it, and maps each region at its offset (regions of any size). */
export function createGuestRam(layout: readonly RegionSpec[], name = "crosvm_guest"): GuestMemory {
  const total = layout.reduce((n, r) => n + r.size, 0);
  const memfd = memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  try {
    ftruncate(memfd, total, `guest memory memfd (${total} bytes)`);
    fcntl(memfd, F_ADD_SEALS, GUEST_RAM_SEALS, `guest memory memfd (sealing its size)`);
    let fdOffset = 0;
    const specs = layout.map((r) => {
      const spec = { guestAddr: r.guestAddr, size: r.size, fdOffset };
      fdOffset += r.size;
      return spec;
    });
    return new GuestMemory(mapMemfdRegions(memfd, specs), memfd);
  } catch (e) {
    close(memfd);
    throw e;
  }
}

/** Unmaps every region and closes the memfd. */
export function releaseGuestRam(memory: GuestMemory): void {
  unmapRegions(memory.regions);
  if (memory.memfd >= 0) close(memory.memfd);
}
