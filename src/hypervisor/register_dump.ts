// The register dump printed when a vCPU stops on an error (triple fault, failed entry, internal error), in the
// spirit of QEMU's "info registers" and crosvm's vcpu error logs.
import type { KvmRegs, KvmSegment, KvmSregs } from "../../ffi/kvm_types.ts";

const h64 = (v: bigint) => v.toString(16).padStart(16, "0");
const h32 = (v: number) => (v >>> 0).toString(16).padStart(8, "0");
const h16 = (v: number) => v.toString(16).padStart(4, "0");

function segment(name: string, s: KvmSegment): string {
  const attrs = `type=${s.type.toString(16)} p=${s.present} dpl=${s.dpl} db=${s.db} s=${s.s} l=${s.l} g=${s.g}`;
  return `${name.toUpperCase().padEnd(3)} sel=${h16(s.selector)} base=${h64(s.base)} limit=${h32(s.limit)} ${attrs}${s.unusable ? " unusable" : ""}`;
}

/** A multi-line dump: general registers, RIP/RFLAGS, segments, descriptor tables, control registers and EFER. */
export function formatRegisterDump(cpu: number, regs: KvmRegs, sregs: KvmSregs): string {
  const lines = [
    `vCPU ${cpu} registers:`,
    `RAX=${h64(regs.rax)} RBX=${h64(regs.rbx)} RCX=${h64(regs.rcx)} RDX=${h64(regs.rdx)}`,
    `RSI=${h64(regs.rsi)} RDI=${h64(regs.rdi)} RBP=${h64(regs.rbp)} RSP=${h64(regs.rsp)}`,
    `R8 =${h64(regs.r8)} R9 =${h64(regs.r9)} R10=${h64(regs.r10)} R11=${h64(regs.r11)}`,
    `R12=${h64(regs.r12)} R13=${h64(regs.r13)} R14=${h64(regs.r14)} R15=${h64(regs.r15)}`,
    `RIP=${h64(regs.rip)} RFLAGS=${h64(regs.rflags)}`,
    ...(["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const).map((n) => segment(n, sregs[n])),
    `GDT base=${h64(sregs.gdt.base)} limit=${h16(sregs.gdt.limit)}  IDT base=${h64(sregs.idt.base)} limit=${h16(sregs.idt.limit)}`,
    `CR0=${h64(sregs.cr0)} CR2=${h64(sregs.cr2)} CR3=${h64(sregs.cr3)} CR4=${h64(sregs.cr4)}`,
    `CR8=${h64(sregs.cr8)} EFER=${h64(sregs.efer)} APIC_BASE=${h64(sregs.apic_base)}`,
  ];
  return lines.join("\n");
}
