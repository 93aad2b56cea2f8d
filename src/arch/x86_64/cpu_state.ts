// The boot vCPU's state for Linux's 64-bit entry (Documentation/arch/x86/boot.rst "64-bit BOOT PROTOCOL": long
// mode with paging, a GDT with __BOOT_CS (0x10) and __BOOT_DS (0x18) flat 4 GiB segments, interrupts disabled,
// RSI = the zero page). Values follow crosvm x86_64/src/regs.rs configure_segments_and_sregs/setup_page_tables
// and lib.rs build_vm. Everything here is pure data except `writeBootCpuTables`, which writes the GDT, IDT and
// page tables into guest memory; applying the state to a vCPU is the VMM's job.
import type { KvmRegs, KvmSegment, KvmSregs } from "../../../ffi/kvm_types.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { gdtEntry, segmentFromGdt } from "./gdt.ts";
import { BOOT_GDT_ADDR, BOOT_IDT_ADDR, BOOT_STACK_POINTER, ZERO_PAGE_ADDR } from "./layout.ts";
import { writeIdentityPageTables } from "./page_tables.ts";

/**
 * GDT: two null entries, code (0x10), data (0x18), and a 16-byte 64-bit TSS descriptor (0x20, upper half 0).
 * Flags: 0xa09b = G, L, P, code exec/read/accessed; 0xc093 = G, DB, P, data read/write/accessed;
 * 0x808b = G, P, busy 64-bit TSS (SDM Vol. 3A Table 3-2).
 */
export const BOOT_GDT: readonly bigint[] = [
  gdtEntry(0, 0, 0),
  gdtEntry(0, 0, 0),
  gdtEntry(0xa09b, 0, 0xfffff),
  gdtEntry(0xc093, 0, 0xfffff),
  gdtEntry(0x808b, 0, 0xfffff),
  0n,
];
export const BOOT_CS_INDEX = 2;
export const BOOT_DS_INDEX = 3;
export const BOOT_TSS_INDEX = 4;

/** Control register and EFER bits (SDM Vol. 3A §2.5, §2.2.1). */
export const CR0_PE = 1n << 0n;
export const CR0_ET = 1n << 4n;
export const CR0_PG = 1n << 31n;
export const CR4_PAE = 1n << 5n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;

/** RFLAGS bit 1 is reserved and always 1 (SDM Vol. 1 §3.4.3); IF is 0, so interrupts are off at entry. */
export const RFLAGS_RESERVED = 0x2n;

/** The x87/SSE state crosvm sets (hypervisor/src/x86_64.rs Fpu::default; SDM Vol. 1 §8.1.5 and §10.2.3). */
export const BOOT_FPU = { fcw: 0x37f, mxcsr: 0x1f80 } as const;

/** Writes the GDT, a one-entry null IDT and the identity page tables; returns the CR3 value. */
export function writeBootCpuTables(mem: GuestMemory): bigint {
  BOOT_GDT.forEach((entry, i) => mem.writeU64(BOOT_GDT_ADDR + i * 8, entry));
  mem.writeU64(BOOT_IDT_ADDR, 0n);
  return writeIdentityPageTables(mem);
}

export interface BootCpuState {
  /** General registers for KVM_SET_REGS: RIP = entry, RSI = zero page, RSP = boot stack, RFLAGS = 0x2. */
  readonly regs: KvmRegs;
  /** Returns the sregs to pass to KVM_SET_SREGS, given the vCPU's current ones from KVM_GET_SREGS. */
  sregs(current: KvmSregs): KvmSregs;
  /** FPU control word and MXCSR for KVM_SET_FPU (everything else zero). */
  readonly fpu: typeof BOOT_FPU;
}

/** Register values that start the boot vCPU at a Linux 64-bit `entry`, with page tables rooted at `cr3`. */
export function bootCpuState(entry: number, cr3: bigint): BootCpuState {
  const zero = 0n;
  const regs: KvmRegs = {
    rax: zero,
    rbx: zero,
    rcx: zero,
    rdx: zero,
    rsi: BigInt(ZERO_PAGE_ADDR),
    rdi: zero,
    rsp: BigInt(BOOT_STACK_POINTER),
    rbp: zero,
    r8: zero,
    r9: zero,
    r10: zero,
    r11: zero,
    r12: zero,
    r13: zero,
    r14: zero,
    r15: zero,
    rip: BigInt(entry),
    rflags: RFLAGS_RESERVED,
  };
  const code = segmentFromGdt(BOOT_GDT[BOOT_CS_INDEX]!, BOOT_CS_INDEX);
  const data = segmentFromGdt(BOOT_GDT[BOOT_DS_INDEX]!, BOOT_DS_INDEX);
  const tss = segmentFromGdt(BOOT_GDT[BOOT_TSS_INDEX]!, BOOT_TSS_INDEX);
  const copy = (s: KvmSegment): KvmSegment => ({ ...s });
  return {
    regs,
    fpu: BOOT_FPU,
    sregs(current) {
      return {
        ...current,
        cs: copy(code),
        ds: copy(data),
        es: copy(data),
        fs: copy(data),
        gs: copy(data),
        ss: copy(data),
        tr: copy(tss),
        gdt: { base: BigInt(BOOT_GDT_ADDR), limit: BOOT_GDT.length * 8 - 1 },
        idt: { base: BigInt(BOOT_IDT_ADDR), limit: 8 - 1 },
        cr0: current.cr0 | CR0_PE | CR0_ET | CR0_PG,
        cr3,
        cr4: current.cr4 | CR4_PAE,
        efer: current.efer | EFER_LME | EFER_LMA,
        interrupt_bitmap: [...current.interrupt_bitmap],
      };
    },
  };
}
