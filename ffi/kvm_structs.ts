// Byte layouts of the KVM structs (x86-64, little-endian) and their encoders/decoders. Sources:
// include/uapi/linux/kvm.h (kvm_run, kvm_userspace_memory_region, kvm_irq_level, kvm_pit_config, kvm_ioeventfd,
// kvm_irqfd, kvm_irq_routing(_entry), kvm_msi, kvm_mp_state, kvm_signal_mask) and
// arch/x86/include/uapi/asm/kvm.h (kvm_regs, kvm_segment, kvm_dtable, kvm_sregs, kvm_fpu, kvm_msrs, kvm_msr_entry,
// kvm_cpuid2, kvm_cpuid_entry2, kvm_lapic_state). Installed here as /usr/include/linux/kvm.h and
// /usr/include/x86_64-linux-gnu/asm/kvm.h; test/unit/ffi/kvm_structs.test.ts pins every number below.
import type { KvmCpuidEntry, KvmDtable, KvmMsrEntry, KvmRegs, KvmSegment, KvmSregs } from "./kvm_types.ts";

const LE = true;

/** Offsets inside struct kvm_run (the vCPU's shared page; its mmap size comes from KVM_GET_VCPU_MMAP_SIZE). */
export const KVM_RUN = {
  requestInterruptWindow: 0,
  immediateExit: 1,
  exitReason: 8,
  readyForInterruptInjection: 12,
  ifFlag: 13,
  flags: 14,
  cr8: 16,
  apicBase: 24,
  /** The exit union starts at 32. */
  io: { direction: 32, size: 33, port: 34, count: 36, dataOffset: 40 },
  mmio: { physAddr: 32, data: 40, len: 48, isWrite: 52 },
  failEntry: { hardwareEntryFailureReason: 32, cpu: 40 },
  internal: { suberror: 32, ndata: 36, data: 40 },
  systemEvent: { type: 32, ndata: 36, data: 40 },
  /** sizeof(struct kvm_run) on x86-64 (the union is padded to 256 bytes, then kvm_sync_regs). */
  size: 2352,
} as const;

export const KVM_REGS_SIZE = 144;
export const KVM_SEGMENT_SIZE = 24;
export const KVM_DTABLE_SIZE = 16;
export const KVM_SREGS_SIZE = 312;
export const KVM_FPU_SIZE = 416;
export const KVM_CPUID2_HEADER_SIZE = 8;
export const KVM_CPUID_ENTRY2_SIZE = 40;
export const KVM_MSRS_HEADER_SIZE = 8;
export const KVM_MSR_ENTRY_SIZE = 16;
export const KVM_USERSPACE_MEMORY_REGION_SIZE = 32;
export const KVM_IRQ_LEVEL_SIZE = 8;
export const KVM_PIT_CONFIG_SIZE = 64;
export const KVM_IOEVENTFD_SIZE = 64;
export const KVM_IRQFD_SIZE = 32;
export const KVM_IRQ_ROUTING_HEADER_SIZE = 8;
export const KVM_IRQ_ROUTING_ENTRY_SIZE = 48;
export const KVM_MSI_SIZE = 32;
/** KVM_APIC_REG_SIZE: the LAPIC's 4 KiB register page, first 1 KiB (registers at 16-byte strides). */
export const KVM_LAPIC_STATE_SIZE = 1024;
export const KVM_MP_STATE_SIZE = 4;

const REG_NAMES = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const satisfies readonly (keyof KvmRegs)[];

const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function need(buf: Uint8Array, size: number, what: string): DataView {
  if (buf.byteLength < size) throw new RangeError(`${what}: buffer of ${buf.byteLength} bytes, need ${size}`);
  return view(buf);
}

// ---- struct kvm_regs: 18 x u64 in the order of REG_NAMES.

export function encodeRegs(r: KvmRegs, out = new Uint8Array(KVM_REGS_SIZE)): Uint8Array {
  const dv = need(out, KVM_REGS_SIZE, "kvm_regs");
  REG_NAMES.forEach((name, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, r[name]), LE));
  return out;
}

export function decodeRegs(buf: Uint8Array): KvmRegs {
  const dv = need(buf, KVM_REGS_SIZE, "kvm_regs");
  const r = {} as KvmRegs;
  REG_NAMES.forEach((name, i) => (r[name] = dv.getBigUint64(i * 8, LE)));
  return r;
}

// ---- struct kvm_segment: u64 base; u32 limit; u16 selector; u8 type, present, dpl, db, s, l, g, avl, unusable, padding.

function encodeSegmentAt(dv: DataView, off: number, s: KvmSegment): void {
  dv.setBigUint64(off, BigInt.asUintN(64, s.base), LE);
  dv.setUint32(off + 8, s.limit >>> 0, LE);
  dv.setUint16(off + 12, s.selector, LE);
  dv.setUint8(off + 14, s.type);
  dv.setUint8(off + 15, s.present);
  dv.setUint8(off + 16, s.dpl);
  dv.setUint8(off + 17, s.db);
  dv.setUint8(off + 18, s.s);
  dv.setUint8(off + 19, s.l);
  dv.setUint8(off + 20, s.g);
  dv.setUint8(off + 21, s.avl);
  dv.setUint8(off + 22, s.unusable);
  dv.setUint8(off + 23, 0);
}

function decodeSegmentAt(dv: DataView, off: number): KvmSegment {
  return {
    base: dv.getBigUint64(off, LE),
    limit: dv.getUint32(off + 8, LE),
    selector: dv.getUint16(off + 12, LE),
    type: dv.getUint8(off + 14),
    present: dv.getUint8(off + 15),
    dpl: dv.getUint8(off + 16),
    db: dv.getUint8(off + 17),
    s: dv.getUint8(off + 18),
    l: dv.getUint8(off + 19),
    g: dv.getUint8(off + 20),
    avl: dv.getUint8(off + 21),
    unusable: dv.getUint8(off + 22),
  };
}

export function encodeSegment(s: KvmSegment, out = new Uint8Array(KVM_SEGMENT_SIZE)): Uint8Array {
  encodeSegmentAt(need(out, KVM_SEGMENT_SIZE, "kvm_segment"), 0, s);
  return out;
}

export function decodeSegment(buf: Uint8Array): KvmSegment {
  return decodeSegmentAt(need(buf, KVM_SEGMENT_SIZE, "kvm_segment"), 0);
}

// ---- struct kvm_dtable: u64 base; u16 limit; u16 padding[3].

function encodeDtableAt(dv: DataView, off: number, t: KvmDtable): void {
  dv.setBigUint64(off, BigInt.asUintN(64, t.base), LE);
  dv.setUint16(off + 8, t.limit, LE);
  dv.setUint16(off + 10, 0, LE);
  dv.setUint32(off + 12, 0, LE);
}

function decodeDtableAt(dv: DataView, off: number): KvmDtable {
  return { base: dv.getBigUint64(off, LE), limit: dv.getUint16(off + 8, LE) };
}

// ---- struct kvm_sregs: 8 segments (cs ds es fs gs ss tr ldt) at 0..191, gdt 192, idt 208, cr0 224, cr2 232,
// cr3 240, cr4 248, cr8 256, efer 264, apic_base 272, interrupt_bitmap[4] 280.

export const KVM_SREGS = {
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
} as const;

export function encodeSregs(s: KvmSregs, out = new Uint8Array(KVM_SREGS_SIZE)): Uint8Array {
  const dv = need(out, KVM_SREGS_SIZE, "kvm_sregs");
  SEGMENT_NAMES.forEach((name, i) => encodeSegmentAt(dv, i * KVM_SEGMENT_SIZE, s[name]));
  encodeDtableAt(dv, KVM_SREGS.gdt, s.gdt);
  encodeDtableAt(dv, KVM_SREGS.idt, s.idt);
  dv.setBigUint64(KVM_SREGS.cr0, BigInt.asUintN(64, s.cr0), LE);
  dv.setBigUint64(KVM_SREGS.cr2, BigInt.asUintN(64, s.cr2), LE);
  dv.setBigUint64(KVM_SREGS.cr3, BigInt.asUintN(64, s.cr3), LE);
  dv.setBigUint64(KVM_SREGS.cr4, BigInt.asUintN(64, s.cr4), LE);
  dv.setBigUint64(KVM_SREGS.cr8, BigInt.asUintN(64, s.cr8), LE);
  dv.setBigUint64(KVM_SREGS.efer, BigInt.asUintN(64, s.efer), LE);
  dv.setBigUint64(KVM_SREGS.apicBase, BigInt.asUintN(64, s.apic_base), LE);
  s.interrupt_bitmap.forEach((w, i) =>
    dv.setBigUint64(KVM_SREGS.interruptBitmap + i * 8, BigInt.asUintN(64, w), LE),
  );
  return out;
}

export function decodeSregs(buf: Uint8Array): KvmSregs {
  const dv = need(buf, KVM_SREGS_SIZE, "kvm_sregs");
  const seg = (i: number) => decodeSegmentAt(dv, i * KVM_SEGMENT_SIZE);
  const u64 = (off: number) => dv.getBigUint64(off, LE);
  const ib = KVM_SREGS.interruptBitmap;
  return {
    cs: seg(0),
    ds: seg(1),
    es: seg(2),
    fs: seg(3),
    gs: seg(4),
    ss: seg(5),
    tr: seg(6),
    ldt: seg(7),
    gdt: decodeDtableAt(dv, KVM_SREGS.gdt),
    idt: decodeDtableAt(dv, KVM_SREGS.idt),
    cr0: u64(KVM_SREGS.cr0),
    cr2: u64(KVM_SREGS.cr2),
    cr3: u64(KVM_SREGS.cr3),
    cr4: u64(KVM_SREGS.cr4),
    cr8: u64(KVM_SREGS.cr8),
    efer: u64(KVM_SREGS.efer),
    apic_base: u64(KVM_SREGS.apicBase),
    interrupt_bitmap: [u64(ib), u64(ib + 8), u64(ib + 16), u64(ib + 24)],
  };
}

// ---- struct kvm_fpu: fpr[8][16] at 0, fcw 128, fsw 130, ftwx 132 (u8), last_opcode 134, last_ip 136,
// last_dp 144, xmm[16][16] 152, mxcsr 408, pad 412.

export interface KvmFpu {
  /** 8 x 16 bytes (x87 registers). */
  fpr: Uint8Array;
  fcw: number;
  fsw: number;
  ftwx: number;
  last_opcode: number;
  last_ip: bigint;
  last_dp: bigint;
  /** 16 x 16 bytes (xmm0..xmm15). */
  xmm: Uint8Array;
  mxcsr: number;
}

export function encodeFpu(f: KvmFpu, out = new Uint8Array(KVM_FPU_SIZE)): Uint8Array {
  const dv = need(out, KVM_FPU_SIZE, "kvm_fpu");
  out.set(f.fpr.subarray(0, 128), 0);
  dv.setUint16(128, f.fcw, LE);
  dv.setUint16(130, f.fsw, LE);
  dv.setUint8(132, f.ftwx);
  dv.setUint16(134, f.last_opcode, LE);
  dv.setBigUint64(136, BigInt.asUintN(64, f.last_ip), LE);
  dv.setBigUint64(144, BigInt.asUintN(64, f.last_dp), LE);
  out.set(f.xmm.subarray(0, 256), 152);
  dv.setUint32(408, f.mxcsr >>> 0, LE);
  return out;
}

export function decodeFpu(buf: Uint8Array): KvmFpu {
  const dv = need(buf, KVM_FPU_SIZE, "kvm_fpu");
  return {
    fpr: buf.slice(0, 128),
    fcw: dv.getUint16(128, LE),
    fsw: dv.getUint16(130, LE),
    ftwx: dv.getUint8(132),
    last_opcode: dv.getUint16(134, LE),
    last_ip: dv.getBigUint64(136, LE),
    last_dp: dv.getBigUint64(144, LE),
    xmm: buf.slice(152, 408),
    mxcsr: dv.getUint32(408, LE),
  };
}

// ---- struct kvm_cpuid2: u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[nent] (40 bytes each:
// function, index, flags, eax, ebx, ecx, edx, padding[3]).

export function encodeCpuid2(entries: readonly KvmCpuidEntry[]): Uint8Array {
  const out = new Uint8Array(KVM_CPUID2_HEADER_SIZE + entries.length * KVM_CPUID_ENTRY2_SIZE);
  const dv = view(out);
  dv.setUint32(0, entries.length, LE);
  entries.forEach((e, i) => {
    const o = KVM_CPUID2_HEADER_SIZE + i * KVM_CPUID_ENTRY2_SIZE;
    dv.setUint32(o, e.function >>> 0, LE);
    dv.setUint32(o + 4, e.index >>> 0, LE);
    dv.setUint32(o + 8, e.flags >>> 0, LE);
    dv.setUint32(o + 12, e.eax >>> 0, LE);
    dv.setUint32(o + 16, e.ebx >>> 0, LE);
    dv.setUint32(o + 20, e.ecx >>> 0, LE);
    dv.setUint32(o + 24, e.edx >>> 0, LE);
  });
  return out;
}

/** An empty kvm_cpuid2 with room for `capacity` entries and nent = capacity, for KVM_GET_SUPPORTED_CPUID. */
export function cpuid2Buffer(capacity: number): Uint8Array {
  const out = new Uint8Array(KVM_CPUID2_HEADER_SIZE + capacity * KVM_CPUID_ENTRY2_SIZE);
  view(out).setUint32(0, capacity, LE);
  return out;
}

export function decodeCpuid2(buf: Uint8Array): KvmCpuidEntry[] {
  const dv = need(buf, KVM_CPUID2_HEADER_SIZE, "kvm_cpuid2");
  const nent = dv.getUint32(0, LE);
  need(buf, KVM_CPUID2_HEADER_SIZE + nent * KVM_CPUID_ENTRY2_SIZE, "kvm_cpuid2 entries");
  const out: KvmCpuidEntry[] = [];
  for (let i = 0; i < nent; i++) {
    const o = KVM_CPUID2_HEADER_SIZE + i * KVM_CPUID_ENTRY2_SIZE;
    out.push({
      function: dv.getUint32(o, LE),
      index: dv.getUint32(o + 4, LE),
      flags: dv.getUint32(o + 8, LE),
      eax: dv.getUint32(o + 12, LE),
      ebx: dv.getUint32(o + 16, LE),
      ecx: dv.getUint32(o + 20, LE),
      edx: dv.getUint32(o + 24, LE),
    });
  }
  return out;
}

// ---- struct kvm_msrs: u32 nmsrs; u32 pad; struct kvm_msr_entry entries[] (u32 index; u32 reserved; u64 data).

export function encodeMsrs(entries: readonly KvmMsrEntry[]): Uint8Array {
  const out = new Uint8Array(KVM_MSRS_HEADER_SIZE + entries.length * KVM_MSR_ENTRY_SIZE);
  const dv = view(out);
  dv.setUint32(0, entries.length, LE);
  entries.forEach((e, i) => {
    const o = KVM_MSRS_HEADER_SIZE + i * KVM_MSR_ENTRY_SIZE;
    dv.setUint32(o, e.index >>> 0, LE);
    dv.setBigUint64(o + 8, BigInt.asUintN(64, e.data), LE);
  });
  return out;
}

export function decodeMsrs(buf: Uint8Array): KvmMsrEntry[] {
  const dv = need(buf, KVM_MSRS_HEADER_SIZE, "kvm_msrs");
  const n = dv.getUint32(0, LE);
  need(buf, KVM_MSRS_HEADER_SIZE + n * KVM_MSR_ENTRY_SIZE, "kvm_msrs entries");
  const out: KvmMsrEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = KVM_MSRS_HEADER_SIZE + i * KVM_MSR_ENTRY_SIZE;
    out.push({ index: dv.getUint32(o, LE), data: dv.getBigUint64(o + 8, LE) });
  }
  return out;
}

// ---- struct kvm_userspace_memory_region: u32 slot; u32 flags; u64 guest_phys_addr; u64 memory_size; u64 userspace_addr.

export interface KvmUserspaceMemoryRegion {
  slot: number;
  flags: number;
  guestPhysAddr: number;
  memorySize: number;
  userspaceAddr: number;
}

export function encodeUserspaceMemoryRegion(r: KvmUserspaceMemoryRegion): Uint8Array {
  const out = new Uint8Array(KVM_USERSPACE_MEMORY_REGION_SIZE);
  const dv = view(out);
  dv.setUint32(0, r.slot, LE);
  dv.setUint32(4, r.flags, LE);
  dv.setBigUint64(8, BigInt(r.guestPhysAddr), LE);
  dv.setBigUint64(16, BigInt(r.memorySize), LE);
  dv.setBigUint64(24, BigInt(r.userspaceAddr), LE);
  return out;
}

export function decodeUserspaceMemoryRegion(buf: Uint8Array): KvmUserspaceMemoryRegion {
  const dv = need(buf, KVM_USERSPACE_MEMORY_REGION_SIZE, "kvm_userspace_memory_region");
  return {
    slot: dv.getUint32(0, LE),
    flags: dv.getUint32(4, LE),
    guestPhysAddr: Number(dv.getBigUint64(8, LE)),
    memorySize: Number(dv.getBigUint64(16, LE)),
    userspaceAddr: Number(dv.getBigUint64(24, LE)),
  };
}

// ---- struct kvm_irq_level: union { u32 irq; s32 status; }; u32 level.

export function encodeIrqLevel(irq: number, level: number): Uint8Array {
  const out = new Uint8Array(KVM_IRQ_LEVEL_SIZE);
  const dv = view(out);
  dv.setUint32(0, irq, LE);
  dv.setUint32(4, level, LE);
  return out;
}

// ---- struct kvm_pit_config: u32 flags; u32 pad[15].

export function encodePitConfig(flags: number): Uint8Array {
  const out = new Uint8Array(KVM_PIT_CONFIG_SIZE);
  view(out).setUint32(0, flags, LE);
  return out;
}

// ---- struct kvm_ioeventfd: u64 datamatch; u64 addr; u32 len; s32 fd; u32 flags; u8 pad[36].

export interface KvmIoeventfd {
  datamatch: bigint;
  addr: number;
  len: number;
  fd: number;
  flags: number;
}

export function encodeIoeventfd(e: KvmIoeventfd): Uint8Array {
  const out = new Uint8Array(KVM_IOEVENTFD_SIZE);
  const dv = view(out);
  dv.setBigUint64(0, BigInt.asUintN(64, e.datamatch), LE);
  dv.setBigUint64(8, BigInt(e.addr), LE);
  dv.setUint32(16, e.len, LE);
  dv.setInt32(20, e.fd, LE);
  dv.setUint32(24, e.flags, LE);
  return out;
}

export function decodeIoeventfd(buf: Uint8Array): KvmIoeventfd {
  const dv = need(buf, KVM_IOEVENTFD_SIZE, "kvm_ioeventfd");
  return {
    datamatch: dv.getBigUint64(0, LE),
    addr: Number(dv.getBigUint64(8, LE)),
    len: dv.getUint32(16, LE),
    fd: dv.getInt32(20, LE),
    flags: dv.getUint32(24, LE),
  };
}

// ---- struct kvm_irqfd: u32 fd; u32 gsi; u32 flags; u32 resamplefd; u8 pad[16].

export interface KvmIrqfd {
  fd: number;
  gsi: number;
  flags: number;
  resamplefd: number;
}

export function encodeIrqfd(e: KvmIrqfd): Uint8Array {
  const out = new Uint8Array(KVM_IRQFD_SIZE);
  const dv = view(out);
  dv.setUint32(0, e.fd, LE);
  dv.setUint32(4, e.gsi, LE);
  dv.setUint32(8, e.flags, LE);
  dv.setUint32(12, e.resamplefd >>> 0, LE);
  return out;
}

export function decodeIrqfd(buf: Uint8Array): KvmIrqfd {
  const dv = need(buf, KVM_IRQFD_SIZE, "kvm_irqfd");
  return {
    fd: dv.getUint32(0, LE),
    gsi: dv.getUint32(4, LE),
    flags: dv.getUint32(8, LE),
    resamplefd: dv.getUint32(12, LE),
  };
}

// ---- struct kvm_irq_routing: u32 nr; u32 flags; struct kvm_irq_routing_entry entries[nr] (48 bytes:
// u32 gsi; u32 type; u32 flags; u32 pad; union u at 16 { irqchip {u32 irqchip; u32 pin}; msi {u32 address_lo;
// u32 address_hi; u32 data; u32 devid} ; u32 pad[8] }).

export type KvmIrqRoute =
  | { gsi: number; type: "irqchip"; irqchip: number; pin: number }
  | { gsi: number; type: "msi"; addressLo: number; addressHi: number; data: number };

export function encodeIrqRouting(routes: readonly KvmIrqRoute[]): Uint8Array {
  const out = new Uint8Array(KVM_IRQ_ROUTING_HEADER_SIZE + routes.length * KVM_IRQ_ROUTING_ENTRY_SIZE);
  const dv = view(out);
  dv.setUint32(0, routes.length, LE);
  routes.forEach((r, i) => {
    const o = KVM_IRQ_ROUTING_HEADER_SIZE + i * KVM_IRQ_ROUTING_ENTRY_SIZE;
    dv.setUint32(o, r.gsi, LE);
    if (r.type === "irqchip") {
      dv.setUint32(o + 4, 1 /* KVM_IRQ_ROUTING_IRQCHIP */, LE);
      dv.setUint32(o + 16, r.irqchip, LE);
      dv.setUint32(o + 20, r.pin, LE);
    } else {
      dv.setUint32(o + 4, 2 /* KVM_IRQ_ROUTING_MSI */, LE);
      dv.setUint32(o + 16, r.addressLo >>> 0, LE);
      dv.setUint32(o + 20, r.addressHi >>> 0, LE);
      dv.setUint32(o + 24, r.data >>> 0, LE);
    }
  });
  return out;
}

export function decodeIrqRouting(buf: Uint8Array): KvmIrqRoute[] {
  const dv = need(buf, KVM_IRQ_ROUTING_HEADER_SIZE, "kvm_irq_routing");
  const nr = dv.getUint32(0, LE);
  need(buf, KVM_IRQ_ROUTING_HEADER_SIZE + nr * KVM_IRQ_ROUTING_ENTRY_SIZE, "kvm_irq_routing entries");
  const out: KvmIrqRoute[] = [];
  for (let i = 0; i < nr; i++) {
    const o = KVM_IRQ_ROUTING_HEADER_SIZE + i * KVM_IRQ_ROUTING_ENTRY_SIZE;
    const gsi = dv.getUint32(o, LE);
    const type = dv.getUint32(o + 4, LE);
    if (type === 1)
      out.push({ gsi, type: "irqchip", irqchip: dv.getUint32(o + 16, LE), pin: dv.getUint32(o + 20, LE) });
    else if (type === 2)
      out.push({
        gsi,
        type: "msi",
        addressLo: dv.getUint32(o + 16, LE),
        addressHi: dv.getUint32(o + 20, LE),
        data: dv.getUint32(o + 24, LE),
      });
    else throw new Error(`kvm_irq_routing entry ${i}: unknown type ${type}`);
  }
  return out;
}

// ---- struct kvm_msi: u32 address_lo; u32 address_hi; u32 data; u32 flags; u32 devid; u8 pad[12].

export interface KvmMsi {
  addressLo: number;
  addressHi: number;
  data: number;
}

export function encodeMsi(m: KvmMsi): Uint8Array {
  const out = new Uint8Array(KVM_MSI_SIZE);
  const dv = view(out);
  dv.setUint32(0, m.addressLo >>> 0, LE);
  dv.setUint32(4, m.addressHi >>> 0, LE);
  dv.setUint32(8, m.data >>> 0, LE);
  return out;
}

export function decodeMsi(buf: Uint8Array): KvmMsi {
  const dv = need(buf, KVM_MSI_SIZE, "kvm_msi");
  return { addressLo: dv.getUint32(0, LE), addressHi: dv.getUint32(4, LE), data: dv.getUint32(8, LE) };
}

// ---- struct kvm_lapic_state: char regs[KVM_APIC_REG_SIZE = 0x400]; registers are u32 at their APIC offsets
// (Intel SDM Vol. 3A Table 11-1: ID 0x20, LVT LINT0 0x350, LVT LINT1 0x360, ...).

export function lapicRegister(state: Uint8Array, offset: number): number {
  return need(state, KVM_LAPIC_STATE_SIZE, "kvm_lapic_state").getUint32(offset, LE);
}

export function setLapicRegister(state: Uint8Array, offset: number, value: number): void {
  need(state, KVM_LAPIC_STATE_SIZE, "kvm_lapic_state").setUint32(offset, value >>> 0, LE);
}

// ---- struct kvm_mp_state: u32 mp_state.

export function encodeMpState(state: number): Uint8Array {
  const out = new Uint8Array(KVM_MP_STATE_SIZE);
  view(out).setUint32(0, state, LE);
  return out;
}

export function decodeMpState(buf: Uint8Array): number {
  return need(buf, KVM_MP_STATE_SIZE, "kvm_mp_state").getUint32(0, LE);
}

// ---- struct kvm_signal_mask: u32 len; u8 sigset[len]. The kernel's sigset_t is 8 bytes on x86-64.

export function encodeSignalMask(sigset: bigint): Uint8Array {
  const out = new Uint8Array(4 + 8);
  const dv = view(out);
  dv.setUint32(0, 8, LE);
  dv.setBigUint64(4, BigInt.asUintN(64, sigset), LE);
  return out;
}

// ---- struct kvm_clock_data (include/uapi/linux/kvm.h): u64 clock; u32 flags; u32 pad0; u64 realtime;
// u64 host_tsc; u32 pad[4]. `clock` is the guest's kvmclock in ns; realtime/host_tsc are filled by KVM_GET_CLOCK
// only with KVM_CLOCK_REALTIME/KVM_CLOCK_HOST_TSC in flags, and read by KVM_SET_CLOCK only with those flags set.

export const KVM_CLOCK_DATA_SIZE = 48;
export const KVM_CLOCK_DATA = { clock: 0, flags: 8, realtime: 16, hostTsc: 24 } as const;

export interface KvmClockData {
  clock: bigint;
  flags: number;
  realtime: bigint;
  hostTsc: bigint;
}

export function encodeClockData(c: KvmClockData, out = new Uint8Array(KVM_CLOCK_DATA_SIZE)): Uint8Array {
  const dv = need(out, KVM_CLOCK_DATA_SIZE, "kvm_clock_data");
  dv.setBigUint64(KVM_CLOCK_DATA.clock, BigInt.asUintN(64, c.clock), LE);
  dv.setUint32(KVM_CLOCK_DATA.flags, c.flags >>> 0, LE);
  dv.setBigUint64(KVM_CLOCK_DATA.realtime, BigInt.asUintN(64, c.realtime), LE);
  dv.setBigUint64(KVM_CLOCK_DATA.hostTsc, BigInt.asUintN(64, c.hostTsc), LE);
  return out;
}

export function decodeClockData(buf: Uint8Array): KvmClockData {
  const dv = need(buf, KVM_CLOCK_DATA_SIZE, "kvm_clock_data");
  return {
    clock: dv.getBigUint64(KVM_CLOCK_DATA.clock, LE),
    flags: dv.getUint32(KVM_CLOCK_DATA.flags, LE),
    realtime: dv.getBigUint64(KVM_CLOCK_DATA.realtime, LE),
    hostTsc: dv.getBigUint64(KVM_CLOCK_DATA.hostTsc, LE),
  };
}
