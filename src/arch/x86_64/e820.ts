// The BIOS memory map (INT 15h AX=E820h format) handed to Linux in boot_params.e820_table, in the order crosvm
// builds it (x86_64/src/lib.rs generate_e820_memory_map): RAM regions, then the PCIe ECAM window, crosvm's virtual
// PCI config window, and the KVM identity-map/TSS pages.
import {
  HIGH_RAM_START,
  IDENTITY_MAP_ADDR,
  LOW_RAM_END,
  PCIE_ECAM_SIZE,
  PCIE_ECAM_START,
  TSS_END,
  guestRamRegions,
  pcieVcfgRange,
} from "./layout.ts";

/** Linux arch/x86/include/asm/e820/types.h. */
export const E820_RAM = 1;
export const E820_RESERVED = 2;

/** struct boot_e820_entry: u64 addr, u64 size, u32 type, packed (20 bytes). */
export const E820_ENTRY_SIZE = 20;
/** E820_MAX_ENTRIES_ZEROPAGE (arch/x86/include/uapi/asm/bootparam.h). */
export const E820_MAX_ENTRIES = 128;

export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: typeof E820_RAM | typeof E820_RESERVED;
}

/** The e820 map for a guest with `memBytes` of RAM laid out by `guestRamRegions`. */
export function e820Map(memBytes: number): E820Entry[] {
  const entries: E820Entry[] = [];
  for (const region of guestRamRegions(memBytes)) {
    if (region.guestAddr === 0) {
      // The first region also backs the legacy 640 KiB..1 MiB hole, which PC guests expect to be reserved.
      entries.push({ addr: 0, size: LOW_RAM_END, type: E820_RAM });
      entries.push({ addr: LOW_RAM_END, size: HIGH_RAM_START - LOW_RAM_END, type: E820_RESERVED });
      entries.push({ addr: HIGH_RAM_START, size: region.size - HIGH_RAM_START, type: E820_RAM });
    } else {
      entries.push({ addr: region.guestAddr, size: region.size, type: E820_RAM });
    }
  }
  entries.push({ addr: PCIE_ECAM_START, size: PCIE_ECAM_SIZE, type: E820_RESERVED });
  const vcfg = pcieVcfgRange(memBytes);
  entries.push({ addr: vcfg.start, size: vcfg.size, type: E820_RESERVED });
  entries.push({ addr: IDENTITY_MAP_ADDR, size: TSS_END - IDENTITY_MAP_ADDR, type: E820_RESERVED });
  return entries;
}
