// Identity-mapped boot page tables for the first 4 GiB with 2 MiB pages (crosvm x86_64/src/regs.rs
// setup_page_tables): one PML4 entry -> one PDPT with four entries -> four page directories of 512 PDEs each.
// boot.rst "64-bit BOOT PROTOCOL": the kernel's init_size range, the zero page and the command line must be
// identity-mapped at the 64-bit entry; all of them lie below 4 GiB. An initrd above 4 GiB is fine: the kernel
// reads it only after building its own page tables.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { BOOT_PDE_ADDR, BOOT_PDPTE_ADDR, BOOT_PML4_ADDR, PAGE_SIZE } from "./layout.ts";

/** Intel SDM Vol. 3A §4.5, Table 4-15..4-18: P (bit 0), R/W (bit 1), PS (bit 7). */
export const PTE_PRESENT = 1n << 0n;
export const PTE_WRITABLE = 1n << 1n;
export const PTE_PAGE_SIZE = 1n << 7n;

/** Gibibytes the boot tables map. */
export const IDENTITY_MAPPED_GIB = 4;

/** Writes the tables and returns the CR3 value (the PML4 address). */
export function writeIdentityPageTables(mem: GuestMemory): bigint {
  const table = PTE_PRESENT | PTE_WRITABLE;
  mem.writeU64(BOOT_PML4_ADDR, BigInt(BOOT_PDPTE_ADDR) | table);
  for (let gib = 0; gib < IDENTITY_MAPPED_GIB; gib++) {
    const pd = BOOT_PDE_ADDR + gib * PAGE_SIZE;
    mem.writeU64(BOOT_PDPTE_ADDR + gib * 8, BigInt(pd) | table);
    for (let i = 0; i < 512; i++) {
      const frame = (BigInt(gib) << 30n) | (BigInt(i) << 21n);
      mem.writeU64(pd + i * 8, frame | table | PTE_PAGE_SIZE);
    }
  }
  return BigInt(BOOT_PML4_ADDR);
}
