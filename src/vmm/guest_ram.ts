// Guest RAM for a real VM: one memfd holding every region back to back, each region mapped MAP_SHARED so that
// device processes can later map the same pages from the same memfd (spec: "Guest memory" in architecture.md).
// The memfd is sealed against shrinking and growing before anyone else receives it: a compromised device process
// that truncated it would make every mapping of the lost pages fault with SIGBUS, in its siblings and in the VMM.
import { readFileSync } from "node:fs";
import {
  close,
  F_ADD_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  fcntl,
  ftruncate,
  madvise,
  MADV_HUGEPAGE,
  memfdCreate,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
} from "../../ffi/libc.ts";
import { GuestMemory } from "../vm_memory/guest_memory.ts";
import { mapMemfdRegions, unmapRegions } from "../vm_memory/mapped_region.ts";
import { HUGE_PAGE_SIZE } from "./ram_collapse.ts";

export interface RegionSpec {
  readonly guestAddr: number;
  readonly size: number;
}

/** The seals on guest RAM: its size is fixed (ftruncate and growing writes fail with EPERM). */
export const GUEST_RAM_SEALS = F_SEAL_SHRINK | F_SEAL_GROW;

export interface GuestRamOptions {
  /** madvise(MADV_HUGEPAGE) every region (crosvm's --hugepages). */
  hugepages?: boolean;
  name?: string;
}

/** Creates the memfd, sizes and seals it, and maps each region at its offset (regions of any size). */
export function createGuestRam(layout: readonly RegionSpec[], options: GuestRamOptions = {}): GuestMemory {
  const name = options.name ?? "crosvm_guest";
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
    // At 2 MiB boundaries, so that a huge page of the memfd (--hugepages, ram_collapse.ts) is mapped whole.
    const regions = mapMemfdRegions(memfd, specs, HUGE_PAGE_SIZE);
    if (options.hugepages)
      for (const r of regions) madvise(r.hostAddr, r.size, MADV_HUGEPAGE, "guest memory (--hugepages)");
    return new GuestMemory(regions, memfd);
  } catch (e) {
    close(memfd);
    throw e;
  }
}

/** Where Linux says whether shmem (a memfd) may use transparent huge pages (Documentation/admin-guide/mm/transhuge.rst). */
export const SHMEM_THP_SETTING = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";

/**
 * Why --hugepages gives guest RAM no huge pages here, or undefined when it can: shmem_enabled is "deny" (the
 * chosen value is the bracketed one, e.g. "always within_size advise never [deny] force"), or absent. "never" only
 * stops MADV_HUGEPAGE; the collapser (ram_collapse.ts, MADV_COLLAPSE) still makes huge pages under it.
 */
export function shmemHugePagesRefused(settingText: string | undefined): string | undefined {
  if (settingText === undefined) return `${SHMEM_THP_SETTING} is absent (no transparent huge pages)`;
  const chosen = /\[(\w+)\]/.exec(settingText)?.[1];
  if (chosen === "deny")
    return `${SHMEM_THP_SETTING} is "${chosen}" (as root: echo advise > ${SHMEM_THP_SETTING})`;
  return undefined;
}

/** Why this host gives guest RAM no huge pages under --hugepages (its shmem_enabled), or undefined. */
export function hostShmemHugePagesRefused(): string | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(SHMEM_THP_SETTING, "utf8");
  } catch {
    text = undefined;
  }
  return shmemHugePagesRefused(text);
}

/** Unmaps every region and closes the memfd. */
export function releaseGuestRam(memory: GuestMemory): void {
  unmapRegions(memory.regions);
  if (memory.memfd >= 0) close(memory.memfd);
}
