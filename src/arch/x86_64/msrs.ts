// MSRs every vCPU gets before it first runs (crosvm x86_64/src/regs.rs set_long_mode_msrs and set_mtrr_msrs;
// indices from Linux arch/x86/include/asm/msr-index.h, meanings from Intel SDM Vol. 4).
import type { KvmMsrEntry } from "../../../ffi/kvm_types.ts";
import { FIRST_ADDR_PAST_32BITS, LOW_MMIO_START } from "./layout.ts";

export const MSR_IA32_TSC = 0x10;
export const MSR_MTRRcap = 0xfe;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_PHYS_BASE0 = 0x200;
export const MSR_MTRR_PHYS_MASK0 = 0x201;
export const MSR_MTRRdefType = 0x2ff;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_SYSCALL_MASK = 0xc000_0084;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;

/** IA32_MISC_ENABLE bit 0: fast-strings enable (MSR_IA32_MISC_ENABLE_FAST_STRING). */
export const MISC_ENABLE_FAST_STRING = 1n << 0n;
/** Memory types (SDM Vol. 3A §12.11.1 Table 12-8). */
export const MTRR_TYPE_UC = 0n;
export const MTRR_TYPE_WB = 6n;
/** IA32_MTRR_DEF_TYPE bit 11 (E): MTRRs enabled; fixed-range MTRRs (FE, bit 10) stay off. */
export const MTRR_DEF_TYPE_ENABLE = 1n << 11n;
/** IA32_MTRR_PHYSMASKn bit 11: this variable range is valid. */
export const MTRR_PHYS_MASK_VALID = 1n << 11n;
/** IA32_MTRRCAP bits 7:0: number of variable ranges. */
export const MTRRCAP_VCNT_MASK = 0xffn;

/** Power-of-two, naturally aligned pieces covering [base, base+len), as variable MTRRs require. */
export function mtrrRanges(base: number, len: number): { base: number; len: number }[] {
  const out: { base: number; len: number }[] = [];
  let at = base;
  let left = len;
  while (left > 0) {
    let size = 2 ** Math.floor(Math.log2(left));
    while (at % size !== 0) size /= 2;
    out.push({ base: at, len: size });
    at += size;
    left -= size;
  }
  return out;
}

/** Variable MTRRs making [pciStart, 4 GiB) uncacheable, default type write-back (crosvm set_mtrr_msrs). */
export function mtrrMsrs(physAddrBits: number, pciStart = LOW_MMIO_START): KvmMsrEntry[] {
  const physMask = (1n << BigInt(physAddrBits)) - 1n;
  const out: KvmMsrEntry[] = [];
  mtrrRanges(pciStart, FIRST_ADDR_PAST_32BITS - pciStart).forEach((r, i) => {
    out.push({ index: MSR_MTRR_PHYS_BASE0 + 2 * i, data: BigInt(r.base) | MTRR_TYPE_UC });
    out.push({
      index: MSR_MTRR_PHYS_MASK0 + 2 * i,
      data: (-BigInt(r.len) & physMask) | MTRR_PHYS_MASK_VALID,
    });
  });
  out.push({ index: MSR_MTRRdefType, data: MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WB });
  return out;
}

/** True for the MTRR MSRs `mtrrMsrs` produces (the VMM drops them when MTRRcap has too few variable ranges). */
export function isMtrrMsr(index: number): boolean {
  return (
    (index >= MSR_MTRR_PHYS_BASE0 && index <= MSR_MTRR_PHYS_BASE0 + 2 * 0xff) || index === MSR_MTRRdefType
  );
}

/** Number of variable MTRR pairs in `msrs`. */
export function variableMtrrCount(msrs: readonly KvmMsrEntry[]): number {
  return msrs.filter((m) => isMtrrMsr(m.index) && m.index !== MSR_MTRRdefType).length / 2;
}

/** The MSRs for every vCPU of a long-mode boot: syscall/sysenter state cleared, TSC 0, fast strings, MTRRs. */
export function bootMsrs(physAddrBits: number): KvmMsrEntry[] {
  return [
    { index: MSR_IA32_SYSENTER_CS, data: 0n },
    { index: MSR_IA32_SYSENTER_ESP, data: 0n },
    { index: MSR_IA32_SYSENTER_EIP, data: 0n },
    { index: MSR_STAR, data: 0n },
    { index: MSR_CSTAR, data: 0n },
    { index: MSR_KERNEL_GS_BASE, data: 0n },
    { index: MSR_SYSCALL_MASK, data: 0n },
    { index: MSR_LSTAR, data: 0n },
    { index: MSR_IA32_TSC, data: 0n },
    { index: MSR_IA32_MISC_ENABLE, data: MISC_ENABLE_FAST_STRING },
    ...mtrrMsrs(physAddrBits),
  ];
}
