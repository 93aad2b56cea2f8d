// Pins the KVM struct layouts to the kernel's uapi headers (include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h, installed as /usr/include/linux/kvm.h and /usr/include/x86_64-linux-gnu/asm/kvm.h).
// The numbers are sizeof/offsetof as gcc reports them for x86-64.
import { describe, expect, test } from "bun:test";
import {
  decodeCpuid2,
  decodeFpu,
  decodeIoeventfd,
  decodeIrqfd,
  decodeIrqRouting,
  decodeMpState,
  decodeMsi,
  decodeMsrs,
  decodeRegs,
  decodeSegment,
  decodeSregs,
  decodeUserspaceMemoryRegion,
  encodeCpuid2,
  encodeFpu,
  encodeIoeventfd,
  encodeIrqfd,
  encodeIrqLevel,
  encodeIrqRouting,
  encodeMpState,
  encodeMsi,
  encodeMsrs,
  encodePitConfig,
  encodeRegs,
  encodeSegment,
  encodeSignalMask,
  encodeSregs,
  encodeUserspaceMemoryRegion,
  KVM_CPUID2_HEADER_SIZE,
  KVM_CPUID_ENTRY2_SIZE,
  KVM_DTABLE_SIZE,
  KVM_FPU_SIZE,
  KVM_IOEVENTFD_SIZE,
  KVM_IRQ_LEVEL_SIZE,
  KVM_IRQ_ROUTING_ENTRY_SIZE,
  KVM_IRQ_ROUTING_HEADER_SIZE,
  KVM_IRQFD_SIZE,
  KVM_LAPIC_STATE_SIZE,
  KVM_MP_STATE_SIZE,
  KVM_MSI_SIZE,
  KVM_MSR_ENTRY_SIZE,
  KVM_MSRS_HEADER_SIZE,
  KVM_PIT_CONFIG_SIZE,
  KVM_REGS_SIZE,
  KVM_RUN,
  KVM_SEGMENT_SIZE,
  KVM_SREGS,
  KVM_SREGS_SIZE,
  KVM_USERSPACE_MEMORY_REGION_SIZE,
  lapicRegister,
  setLapicRegister,
  type KvmFpu,
} from "../../../ffi/kvm_structs.ts";
import type { KvmRegs, KvmSegment, KvmSregs } from "../../../ffi/kvm_types.ts";

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

describe("struct sizes match the x86-64 uapi headers", () => {
  test.each([
    ["kvm_regs (asm/kvm.h)", KVM_REGS_SIZE, 144],
    ["kvm_segment (asm/kvm.h)", KVM_SEGMENT_SIZE, 24],
    ["kvm_dtable (asm/kvm.h)", KVM_DTABLE_SIZE, 16],
    ["kvm_sregs (asm/kvm.h)", KVM_SREGS_SIZE, 312],
    ["kvm_fpu (asm/kvm.h)", KVM_FPU_SIZE, 416],
    ["kvm_cpuid2 header (asm/kvm.h)", KVM_CPUID2_HEADER_SIZE, 8],
    ["kvm_cpuid_entry2 (asm/kvm.h)", KVM_CPUID_ENTRY2_SIZE, 40],
    ["kvm_msrs header (asm/kvm.h)", KVM_MSRS_HEADER_SIZE, 8],
    ["kvm_msr_entry (asm/kvm.h)", KVM_MSR_ENTRY_SIZE, 16],
    ["kvm_lapic_state (asm/kvm.h, KVM_APIC_REG_SIZE 0x400)", KVM_LAPIC_STATE_SIZE, 1024],
    ["kvm_userspace_memory_region (linux/kvm.h)", KVM_USERSPACE_MEMORY_REGION_SIZE, 32],
    ["kvm_irq_level (linux/kvm.h)", KVM_IRQ_LEVEL_SIZE, 8],
    ["kvm_pit_config (linux/kvm.h)", KVM_PIT_CONFIG_SIZE, 64],
    ["kvm_ioeventfd (linux/kvm.h)", KVM_IOEVENTFD_SIZE, 64],
    ["kvm_irqfd (linux/kvm.h)", KVM_IRQFD_SIZE, 32],
    ["kvm_irq_routing header (linux/kvm.h)", KVM_IRQ_ROUTING_HEADER_SIZE, 8],
    ["kvm_irq_routing_entry (linux/kvm.h)", KVM_IRQ_ROUTING_ENTRY_SIZE, 48],
    ["kvm_msi (linux/kvm.h)", KVM_MSI_SIZE, 32],
    ["kvm_mp_state (linux/kvm.h)", KVM_MP_STATE_SIZE, 4],
    ["kvm_run (linux/kvm.h)", KVM_RUN.size, 2352],
  ])("sizeof(%s) is %d", (_name, actual, expected) => {
    expect(actual).toBe(expected);
  });
});

describe("kvm_run offsets match linux/kvm.h", () => {
  test("header fields", () => {
    expect([KVM_RUN.requestInterruptWindow, KVM_RUN.immediateExit, KVM_RUN.exitReason]).toEqual([0, 1, 8]);
    expect([KVM_RUN.readyForInterruptInjection, KVM_RUN.ifFlag, KVM_RUN.flags]).toEqual([12, 13, 14]);
    expect([KVM_RUN.cr8, KVM_RUN.apicBase]).toEqual([16, 24]);
  });
  test("io exit: direction 32, size 33, port 34, count 36, data_offset 40", () => {
    expect(KVM_RUN.io).toEqual({ direction: 32, size: 33, port: 34, count: 36, dataOffset: 40 });
  });
  test("mmio exit: phys_addr 32, data 40, len 48, is_write 52", () => {
    expect(KVM_RUN.mmio).toEqual({ physAddr: 32, data: 40, len: 48, isWrite: 52 });
  });
  test("fail_entry, internal and system_event exits", () => {
    expect(KVM_RUN.failEntry).toEqual({ hardwareEntryFailureReason: 32, cpu: 40 });
    expect(KVM_RUN.internal).toEqual({ suberror: 32, ndata: 36, data: 40 });
    expect(KVM_RUN.systemEvent).toEqual({ type: 32, ndata: 36, data: 40 });
  });
});

describe("kvm_sregs offsets match asm/kvm.h", () => {
  test("tables, control registers, EFER, APIC base and interrupt bitmap", () => {
    expect(KVM_SREGS).toEqual({
      gdt: 192,
      idt: 208,
      cr0: 224,
      cr2: 232,
      cr3: 240,
      cr4: 248,
      cr8: 256,
      efer: 264,
      apicBase: 272,
      interruptBitmap: 280,
    });
  });
});

const seg = (n: number): KvmSegment => ({
  base: BigInt(n) * 0x1000n,
  limit: 0xffff + n,
  selector: n * 8,
  type: 0xb,
  present: 1,
  dpl: 0,
  db: 1,
  s: 1,
  l: 0,
  g: 1,
  avl: 0,
  unusable: 0,
});

const sampleRegs = (): KvmRegs => ({
  rax: 1n,
  rbx: 2n,
  rcx: 3n,
  rdx: 4n,
  rsi: 5n,
  rdi: 6n,
  rsp: 7n,
  rbp: 8n,
  r8: 9n,
  r9: 10n,
  r10: 11n,
  r11: 12n,
  r12: 13n,
  r13: 14n,
  r14: 15n,
  r15: 0xffff_ffff_ffff_ffffn,
  rip: 0xfff0n,
  rflags: 2n,
});

const sampleSregs = (): KvmSregs => ({
  cs: seg(1),
  ds: seg(2),
  es: seg(3),
  fs: seg(4),
  gs: seg(5),
  ss: seg(6),
  tr: seg(7),
  ldt: seg(8),
  gdt: { base: 0x1500n, limit: 0x27 },
  idt: { base: 0x1528n, limit: 0x7 },
  cr0: 0x80050033n,
  cr2: 0xdeadn,
  cr3: 0x9000n,
  cr4: 0x20n,
  cr8: 0n,
  efer: 0x500n,
  apic_base: 0xfee00900n,
  interrupt_bitmap: [1n, 2n, 3n, 4n],
});

describe("encoders and decoders", () => {
  test("kvm_regs round-trips and places rip at 128, rflags at 136", () => {
    const buf = encodeRegs(sampleRegs());
    expect(dv(buf).getBigUint64(128, true)).toBe(0xfff0n);
    expect(dv(buf).getBigUint64(136, true)).toBe(2n);
    expect(decodeRegs(buf)).toEqual(sampleRegs());
  });

  test("kvm_segment round-trips with limit at 8, selector at 12, type at 14, unusable at 22", () => {
    const s = { ...seg(3), unusable: 1 };
    const buf = encodeSegment(s);
    expect(dv(buf).getUint32(8, true)).toBe(s.limit);
    expect(dv(buf).getUint16(12, true)).toBe(24);
    expect(buf[14]).toBe(0xb);
    expect(buf[22]).toBe(1);
    expect(decodeSegment(buf)).toEqual(s);
  });

  test("kvm_sregs round-trips and places cs first, ss at 120, efer at 264", () => {
    const buf = encodeSregs(sampleSregs());
    expect(dv(buf).getUint16(12, true)).toBe(8); // cs.selector
    expect(dv(buf).getUint16(120 + 12, true)).toBe(48); // ss.selector
    expect(dv(buf).getBigUint64(264, true)).toBe(0x500n);
    expect(decodeSregs(buf)).toEqual(sampleSregs());
  });

  test("kvm_fpu round-trips with fcw at 128 and mxcsr at 408", () => {
    const f: KvmFpu = {
      fpr: new Uint8Array(128).fill(7),
      fcw: 0x37f,
      fsw: 1,
      ftwx: 0xff,
      last_opcode: 2,
      last_ip: 3n,
      last_dp: 4n,
      xmm: new Uint8Array(256).map((_, i) => i),
      mxcsr: 0x1f80,
    };
    const buf = encodeFpu(f);
    expect(dv(buf).getUint16(128, true)).toBe(0x37f);
    expect(dv(buf).getUint32(408, true)).toBe(0x1f80);
    expect(decodeFpu(buf)).toEqual(f);
  });

  test("kvm_cpuid2 round-trips with nent first and 40-byte entries from offset 8", () => {
    const entries = [
      { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 1, ecx: 2, edx: 3 },
      { function: 7, index: 1, flags: 1, eax: 4, ebx: 5, ecx: 6, edx: 0xffffffff },
    ];
    const buf = encodeCpuid2(entries);
    expect(buf.length).toBe(8 + 2 * 40);
    expect(dv(buf).getUint32(0, true)).toBe(2);
    expect(dv(buf).getUint32(8 + 40, true)).toBe(7);
    expect(decodeCpuid2(buf)).toEqual(entries);
  });

  test("kvm_msrs round-trips with data at entry offset 8", () => {
    const entries = [{ index: 0xc0000080, data: 0x500n }];
    const buf = encodeMsrs(entries);
    expect(dv(buf).getUint32(8, true)).toBe(0xc0000080);
    expect(dv(buf).getBigUint64(16, true)).toBe(0x500n);
    expect(decodeMsrs(buf)).toEqual(entries);
  });

  test("kvm_userspace_memory_region round-trips", () => {
    const r = {
      slot: 2,
      flags: 2,
      guestPhysAddr: 0x1_0000_0000,
      memorySize: 0x10000,
      userspaceAddr: 0x7f0000000000,
    };
    const buf = encodeUserspaceMemoryRegion(r);
    expect(dv(buf).getBigUint64(24, true)).toBe(0x7f0000000000n);
    expect(decodeUserspaceMemoryRegion(buf)).toEqual(r);
  });

  test("kvm_irq_level holds irq then level", () => {
    const buf = encodeIrqLevel(4, 1);
    expect([dv(buf).getUint32(0, true), dv(buf).getUint32(4, true)]).toEqual([4, 1]);
  });

  test("kvm_pit_config holds flags first in 64 bytes", () => {
    const buf = encodePitConfig(1);
    expect(buf.length).toBe(64);
    expect(dv(buf).getUint32(0, true)).toBe(1);
  });

  test("kvm_ioeventfd round-trips with addr at 8, len 16, fd 20, flags 24", () => {
    const e = { datamatch: 5n, addr: 0xcf8, len: 4, fd: 9, flags: 3 };
    const buf = encodeIoeventfd(e);
    expect(dv(buf).getInt32(20, true)).toBe(9);
    expect(dv(buf).getUint32(24, true)).toBe(3);
    expect(decodeIoeventfd(buf)).toEqual(e);
  });

  test("kvm_irqfd round-trips", () => {
    const e = { fd: 11, gsi: 4, flags: 0, resamplefd: 0 };
    expect(decodeIrqfd(encodeIrqfd(e))).toEqual(e);
  });

  test("kvm_irq_routing round-trips irqchip and MSI entries (u at entry offset 16)", () => {
    const routes = [
      { gsi: 4, type: "irqchip" as const, irqchip: 2, pin: 4 },
      { gsi: 24, type: "msi" as const, addressLo: 0xfee00000, addressHi: 0, data: 0x4041 },
    ];
    const buf = encodeIrqRouting(routes);
    expect(dv(buf).getUint32(8 + 48 + 16, true)).toBe(0xfee00000);
    expect(decodeIrqRouting(buf)).toEqual(routes);
  });

  test("kvm_msi round-trips", () => {
    const m = { addressLo: 0xfee01000, addressHi: 0, data: 0x31 };
    expect(decodeMsi(encodeMsi(m))).toEqual(m);
  });

  test("kvm_lapic_state registers are read and written at their APIC offsets", () => {
    const state = new Uint8Array(1024);
    setLapicRegister(state, 0x350, 0x700);
    expect(dv(state).getUint32(0x350, true)).toBe(0x700);
    expect(lapicRegister(state, 0x350)).toBe(0x700);
  });

  test("kvm_mp_state round-trips", () => {
    expect(decodeMpState(encodeMpState(4))).toBe(4);
  });

  test("kvm_signal_mask is an 8-byte kernel sigset after its length", () => {
    const buf = encodeSignalMask(1n << 33n);
    expect(dv(buf).getUint32(0, true)).toBe(8);
    expect(dv(buf).getBigUint64(4, true)).toBe(1n << 33n);
  });

  test("a short buffer is refused with the struct's name", () => {
    expect(() => decodeSregs(new Uint8Array(10))).toThrow("kvm_sregs");
  });
});
