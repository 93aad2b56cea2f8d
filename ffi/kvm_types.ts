// Plain TypeScript shapes of the KVM structs that code above ffi/ fills in (field names as in the kernel's
// include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h). ffi/kvm_structs.ts encodes and decodes them
// to the kernel's byte layouts. 64-bit register values are bigint.

/** struct kvm_regs (144 bytes). */
export interface KvmRegs {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rsp: bigint;
  rbp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
}

/** struct kvm_segment (24 bytes). */
export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable (16 bytes). */
export interface KvmDtable {
  base: bigint;
  limit: number;
}

/** struct kvm_sregs (312 bytes). */
export interface KvmSregs {
  cs: KvmSegment;
  ds: KvmSegment;
  es: KvmSegment;
  fs: KvmSegment;
  gs: KvmSegment;
  ss: KvmSegment;
  tr: KvmSegment;
  ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apic_base: bigint;
  /** 4 x u64 bitmap of pending external interrupts. */
  interrupt_bitmap: [bigint, bigint, bigint, bigint];
}

/** struct kvm_cpuid_entry2 (40 bytes). */
export interface KvmCpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_msr_entry (16 bytes). */
export interface KvmMsrEntry {
  index: number;
  data: bigint;
}
