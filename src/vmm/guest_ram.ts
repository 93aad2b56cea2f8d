// Guest RAM for a real VM: one memfd holding every region back to back, each region mapped MAP_SHARED so that
// device processes can later map the same pages from the same memfd (spec: "Guest memory" in architecture.md).
// The memfd is sealed against shrinking and growing before anyone else receives it: a compromised device process
// that truncated it would make every mapping of the lost pages fault with SIGBUS, in its siblings and in the VMM.
import {
  addressOf,
  close,
  F_ADD_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  fcntl,
  ftruncate,
  MAP_NORESERVE,
  MAP_SHARED,
  memfdCreate,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
  viewOf,
} from "../../ffi/libc.ts";
import { GuestMemory, type MemoryRegion } from "../vm_memory/guest_memory.ts";

export interface RegionSpec {
  readonly guestAddr: number;
  readonly size: number;
}

/** The seals on guest RAM: its size is fixed (ftruncate and growing writes fail with EPERM). */
export const GUEST_RAM_SEALS = F_SEAL_SHRINK | F_SEAL_GROW;

/** Creates the memfd, sizes and seals it, and maps each region at its offset. */
export function createGuestRam(layout: readonly RegionSpec[], name = "crosvm_guest"): GuestMemory {
  const total = layout.reduce((n, r) => n + r.size, 0);
  const memfd = memfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  const regions: MemoryRegion[] = [];
  try {
    ftruncate(memfd, total, `guest memory memfd (${total} bytes)`);
    fcntl(memfd, F_ADD_SEALS, GUEST_RAM_SEALS, `guest memory memfd (sealing its size)`);
    let fdOffset = 0;
    for (const r of layout) {
      const what = `guest memory at 0x${r.guestAddr.toString(16)} (${r.size} bytes)`;
      const addr = mmap(r.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memfd, fdOffset, what);
      regions.push({ guestAddr: r.guestAddr, size: r.size, bytes: viewOf(addr, r.size), fdOffset });
      fdOffset += r.size;
    }
    return new GuestMemory(regions, memfd);
  } catch (e) {
    for (const r of regions) munmap(addressOfRegion(r), r.size, "guest memory");
    close(memfd);
    throw e;
  }
}

/** The mapping's address (bun:ffi's ptr() of a view made over native memory is that memory's address). */
function addressOfRegion(r: MemoryRegion): number {
  return addressOf(r.bytes);
}

/** Unmaps every region and closes the memfd. */
export function releaseGuestRam(memory: GuestMemory): void {
  for (const r of memory.regions) munmap(addressOfRegion(r), r.size, "guest memory");
  if (memory.memfd >= 0) close(memory.memfd);
}
