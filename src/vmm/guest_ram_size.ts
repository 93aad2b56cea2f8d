// How much guest RAM `--mem` may ask for, and guest RAM of that size with its failures named after --mem.
// The limits: the guest's physical address width (CPUID 0x80000008 as KVM reports it, and at most 46 bits, what
// Linux with 4-level paging addresses; acpi/tables.ts bounds the high MMIO window the same way) must cover RAM and
// the PCI configuration window past it (layout.ts pcieVcfgRange); then the host must create the memfd and map it
// (ftruncate and mmap refuse with ENOMEM, EFBIG or ENOSPC past its limits). KVM's own limit on one memory slot is
// met by splitting regions into slots (hypervisor/vm.ts).
import { MIB, PAGE_SIZE, type RamRegion, guestRamRegions, pcieVcfgRange } from "../arch/x86_64/layout.ts";
import type { GuestMemory } from "../vm_memory/guest_memory.ts";
import { createGuestRam, type GuestRamOptions, type RegionSpec } from "./guest_ram.ts";

/** Linux with 4-level paging addresses at most 46 physical bits (crosvm HIGH_MMIO_MAX_END). */
const LINUX_MAX_PHYS_BITS = 46;
/** guestRamRegions needs at least 2 MiB. */
const MIN_MEM_MIB = 2;

export class GuestRamSizeError extends Error {
  override name = "GuestRamSizeError";
}

/** The end of guest RAM plus the PCI configuration window after it, for `memMib` MiB of RAM. */
function addressSpaceEnd(memMib: number): number {
  const vcfg = pcieVcfgRange(memMib * MIB);
  return vcfg.start + vcfg.size;
}

/** The largest --mem (MiB) whose RAM and PCI configuration window fit below 2^physAddrBits. */
export function maxMemMib(physAddrBits: number): number {
  const limit = 2 ** Math.min(physAddrBits, LINUX_MAX_PHYS_BITS);
  // RAM above 4 GiB makes the layout's end grow one for one with RAM: start from the estimate and step down.
  let mib = Math.floor(limit / MIB);
  while (mib >= MIN_MEM_MIB && addressSpaceEnd(mib) > limit)
    mib -= Math.max(1, Math.floor((addressSpaceEnd(mib) - limit) / MIB));
  return mib;
}

/** Guest RAM regions for `--mem memMib`, refused with one line naming --mem past what the guest can address. */
export function guestRamLayout(memMib: number, physAddrBits: number): RamRegion[] {
  if (!Number.isSafeInteger(memMib) || memMib < MIN_MEM_MIB)
    throw new GuestRamSizeError(`--mem ${memMib}: expected at least ${MIN_MEM_MIB} MiB`);
  const max = maxMemMib(physAddrBits);
  if (memMib > max)
    throw new GuestRamSizeError(
      `--mem ${memMib}: expected at most ${max} MiB (what ${Math.min(physAddrBits, LINUX_MAX_PHYS_BITS)}-bit ` +
        `guest physical addresses leave for RAM here)`,
    );
  const bytes = memMib * MIB;
  if (bytes % PAGE_SIZE !== 0) throw new GuestRamSizeError(`--mem ${memMib}: not a whole number of pages`);
  return guestRamRegions(bytes);
}

/**
 * Creates guest RAM for `--mem memMib` (plus the boot loader's `extra` regions); a host that cannot create or map
 * that much fails with one line naming --mem and the refusal.
 */
export function createSizedGuestRam(
  memMib: number,
  physAddrBits: number,
  extra: readonly RegionSpec[],
  options: GuestRamOptions = {},
): { ram: RamRegion[]; memory: GuestMemory } {
  const ram = guestRamLayout(memMib, physAddrBits);
  try {
    return { ram, memory: createGuestRam([...ram, ...extra], options) };
  } catch (e) {
    throw new GuestRamSizeError(
      `--mem ${memMib}: the host refused ${memMib} MiB of guest RAM (${(e as Error).message})`,
    );
  }
}
