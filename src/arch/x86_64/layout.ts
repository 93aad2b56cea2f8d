// The x86-64 guest physical memory map for a directly booted Linux kernel (spec: "Memory Layout", table
// "x86-64 guest physical memory map"; crosvm x86_64/src/lib.rs, mptable.rs, regs.rs). Every address the boot code
// writes lives here so the map can be read in one place.

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;
export const PAGE_SIZE = 0x1000;

/** First address past 32 bits; RAM above the low MMIO hole continues here. */
export const FIRST_ADDR_PAST_32BITS = 0x1_0000_0000;

// --- Low memory used by the boot protocol (all inside the first RAM region) ---

/** Boot GDT (crosvm regs.rs BOOT_GDT_OFFSET). */
export const BOOT_GDT_ADDR = 0x1500;
/** Boot IDT: one null entry (crosvm regs.rs BOOT_IDT_OFFSET). */
export const BOOT_IDT_ADDR = 0x1528;
/** Linux boot_params, "the zero page" (crosvm ZERO_PAGE_OFFSET). */
export const ZERO_PAGE_ADDR = 0x7000;
/** Initial stack pointer of the boot vCPU; the stack grows down below it (crosvm BOOT_STACK_POINTER). */
export const BOOT_STACK_POINTER = 0x8000;
/** Boot page tables: PML4, one PDPT, and four page directories at PDE..PDE+0x3fff (crosvm regs.rs). */
export const BOOT_PML4_ADDR = 0x9000;
export const BOOT_PDPTE_ADDR = 0xa000;
export const BOOT_PDE_ADDR = 0xb000;
/** Kernel command line and its size including the terminating NUL (crosvm CMDLINE_OFFSET/CMDLINE_MAX_SIZE). */
export const CMDLINE_ADDR = 0x2_0000;
export const CMDLINE_MAX_SIZE = 0x800;
/** setup_data linked list: from the end of the command line up to the MP table (crosvm SETUP_DATA_START/END). */
export const SETUP_DATA_START = CMDLINE_ADDR + CMDLINE_MAX_SIZE;
/**
 * MP table: floating pointer in the last 16 bytes below 640 KiB, configuration table in the 6 KiB before it
 * (crosvm mptable.rs MP_FLOATING_POINTER_ADDR, MPTABLE_RANGE; Intel MP Spec 1.4 §4: the floating pointer must be
 * in the last KiB of base memory, the BIOS ROM area, or the EBDA).
 */
export const MP_FLOATING_POINTER_ADDR = 640 * KIB - 16;
export const MPTABLE_START = 634 * KIB;
export const MPTABLE_END = MP_FLOATING_POINTER_ADDR;
export const SETUP_DATA_END = MPTABLE_START;
/** End of conventional memory; 640 KiB..1 MiB is the legacy VGA/ROM area, reported reserved in e820. */
export const LOW_RAM_END = 640 * KIB;
export const HIGH_RAM_START = 1 * MIB;
/**
 * ACPI tables start at the RSDP, which Linux finds by scanning 0xE0000..0xFFFFF on 16-byte boundaries
 * (ACPI 6.4 §5.2.5.1; crosvm ACPI_HI_RSDP_WINDOW_BASE). The tables follow it up to 1 MiB.
 */
export const ACPI_RSDP_ADDR = 0xe_0000;
export const ACPI_TABLES_END = 0x10_0000;
/** Where the protected-mode kernel is loaded (crosvm KERNEL_START_OFFSET). */
export const KERNEL_START = 0x20_0000;
/** The 64-bit entry point of a bzImage is this far into the protected-mode kernel (Linux boot.rst, "64-bit BOOT PROTOCOL"). */
export const KERNEL_64BIT_ENTRY_OFFSET = 0x200;

// --- The hole below 4 GiB ---

/** RAM below 4 GiB ends here; the low MMIO allocation area starts (crosvm: 4 GiB - MEM_32BIT_GAP_SIZE 768 MiB). */
export const END_ADDR_BEFORE_32BITS = 0xd000_0000;
/** Low (<4G) MMIO allocation area for PCI BARs, up to the ECAM window. */
export const LOW_MMIO_START = END_ADDR_BEFORE_32BITS;
export const LOW_MMIO_END = 0xf400_0000;
/** PCIe enhanced configuration (ECAM): 64 MiB = buses 0..63 at 1 MiB each (crosvm DEFAULT_PCIE_CFG_MMIO_*). */
export const PCIE_ECAM_START = 0xf400_0000;
export const PCIE_ECAM_SIZE = 0x400_0000;
export const PCIE_ECAM_END = PCIE_ECAM_START + PCIE_ECAM_SIZE;
/** Last PCI bus number the ECAM window covers. */
export const PCIE_ECAM_MAX_BUS = PCIE_ECAM_SIZE / MIB - 1;
/** IOAPIC and local APIC MMIO (Linux arch/x86/include/asm/apicdef.h). */
export const IOAPIC_ADDR = 0xfec0_0000;
export const LAPIC_ADDR = 0xfee0_0000;
/**
 * KVM_SET_IDENTITY_MAP_ADDR page and the three KVM_SET_TSS_ADDR pages (needed by VMX for real mode), placed
 * 4 pages below 4 GiB - 16 MiB (crosvm identity_map_addr_start/tss_addr_start).
 */
export const IDENTITY_MAP_ADDR = 0xfeff_c000;
export const TSS_ADDR = IDENTITY_MAP_ADDR + PAGE_SIZE;
export const TSS_END = TSS_ADDR + 3 * PAGE_SIZE;

// --- I/O ports the tables name ---

/** ACPI PM1 event/control and GPE0 blocks (crosvm devices/src/acpi.rs; base is crosvm's fallback 0x600). */
export const ACPI_PM_IO_BASE = 0x600;
/** Reset Control Register written by the FADT reset register (value 6 = SYS_RST|RST_CPU). */
export const RESET_PORT = 0xcf9;
export const RESET_VALUE = 6;

/** One guest RAM region; the VMM backs all of them with one memfd, mapped in this order. */
export interface RamRegion {
  readonly guestAddr: number;
  readonly size: number;
}

export class MemoryLayoutError extends Error {
  override name = "MemoryLayoutError";
}

/**
 * Guest RAM for `memBytes` bytes: the first min(memBytes, 0xD000_0000) at address 0, the rest from 4 GiB
 * (crosvm arch_memory_regions, which also backs 640 KiB..1 MiB with RAM and reports it reserved in e820).
 */
export function guestRamRegions(memBytes: number): RamRegion[] {
  if (!Number.isSafeInteger(memBytes) || memBytes < 2 * MIB || memBytes % PAGE_SIZE !== 0) {
    throw new MemoryLayoutError(
      `guest memory size ${memBytes} is invalid (expected a multiple of 4 KiB, at least 2 MiB)`,
    );
  }
  const low = Math.min(memBytes, END_ADDR_BEFORE_32BITS);
  const regions: RamRegion[] = [{ guestAddr: 0, size: low }];
  if (memBytes > low) regions.push({ guestAddr: FIRST_ADDR_PAST_32BITS, size: memBytes - low });
  return regions;
}

/** One past the highest RAM address for `memBytes` of RAM. */
export function ramEnd(memBytes: number): number {
  const regions = guestRamRegions(memBytes);
  const last = regions[regions.length - 1]!;
  return last.guestAddr + last.size;
}

/**
 * crosvm's virtual PCI config MMIO window: at the first 2 MiB boundary past RAM or 4 GiB, whichever is higher,
 * twice the ECAM size (crosvm get_pcie_vcfg_mmio_range). It is reserved in e820; high MMIO starts after it.
 */
export function pcieVcfgRange(memBytes: number): { start: number; size: number } {
  const end2m = Math.ceil(ramEnd(memBytes) / (2 * MIB)) * (2 * MIB);
  return { start: Math.max(end2m, FIRST_ADDR_PAST_32BITS), size: 2 * PCIE_ECAM_SIZE };
}

/** First address of the high (>4G) MMIO allocation area (crosvm get_high_mmio_range). */
export function highMmioStart(memBytes: number): number {
  const vcfg = pcieVcfgRange(memBytes);
  return vcfg.start + vcfg.size;
}

// --- Legacy interrupt lines (crosvm x86_64/src/lib.rs, devices/src/cmos.rs) ---

/** COM1/COM3 and COM2/COM4 IRQs. */
export const SERIAL_1_3_IRQ = 4;
export const SERIAL_2_4_IRQ = 3;
/** ACPI SCI: crosvm keeps 5 for it (X86_64_SCI_IRQ) and starts allocating device IRQs at 9. */
export const SCI_IRQ = 5;
export const RTC_IRQ = 8;
export const FIRST_DEVICE_IRQ = 9;
