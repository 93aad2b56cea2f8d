// The Intel MultiProcessor table (MP Spec 1.4 ch. 4; Linux arch/x86/include/asm/mpspec_def.h), laid out as crosvm
// x86_64/src/mptable.rs setup_mptable does: the floating pointer in the last 16 bytes below 640 KiB, the
// configuration table in the 6 KiB before it with one processor entry per vCPU (APIC ID = index), the IOAPIC
// (ID = vCPU count + 1), PCI buses then the ISA bus, ISA interrupt entries, the SCI, PCI INTx entries, and the
// LINT0 ExtINT / LINT1 NMI local interrupt entries.
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import { LeBytes, fixChecksum } from "./bytes.ts";
import {
  FIRST_DEVICE_IRQ,
  IOAPIC_ADDR,
  LAPIC_ADDR,
  MPTABLE_END,
  MPTABLE_START,
  MP_FLOATING_POINTER_ADDR,
  RTC_IRQ,
  SCI_IRQ,
} from "./layout.ts";

// Entry types and flags (mpspec_def.h).
export const MP_PROCESSOR = 0;
export const MP_BUS = 1;
export const MP_IOAPIC = 2;
export const MP_INTSRC = 3;
export const MP_LINTSRC = 4;
export const CPU_ENABLED = 1;
export const CPU_BOOTPROCESSOR = 2;
export const MPC_APIC_USABLE = 1;
export const MP_IRQTYPE_INT = 0;
export const MP_IRQTYPE_NMI = 1;
export const MP_IRQTYPE_EXTINT = 3;
/** irqflag: polarity bits 1:0 (1 = active high), trigger bits 3:2 (3 = level); 0 = conforms to the bus. */
export const MP_IRQDIR_DEFAULT = 0;
export const MP_IRQDIR_HIGH = 1;
export const MP_LEVEL_TRIGGER = 0xc;

export const MPF_SIZE = 16;
export const MPC_TABLE_SIZE = 44;
export const MPC_CPU_SIZE = 20;
/** Bus, IOAPIC, interrupt source and local interrupt entries are 8 bytes each. */
export const MPC_SMALL_ENTRY_SIZE = 8;

const APIC_VERSION = 0x14;
/** CPU signature (family 6) and feature flags FPU | APIC, as crosvm reports. */
const CPU_SIGNATURE = 0x600;
const CPU_FEATURES = 0x201;

/** A PCI device's INTx line routed to an IOAPIC input. `pin` is 0 for INTA# .. 3 for INTD#. */
export interface PciIrq {
  readonly bus: number;
  readonly dev: number;
  readonly pin: number;
  readonly gsi: number;
}

export interface MpTableOptions {
  readonly cpus: number;
  readonly pciIrqs?: readonly PciIrq[];
  readonly sciIrq?: number;
}

export class MpTableError extends Error {
  override name = "MpTableError";
}

/** Builds the configuration table (header + entries) that will sit at MPTABLE_START. */
export function buildMpConfigTable(opts: MpTableOptions): Uint8Array {
  const { cpus } = opts;
  const pciIrqs = opts.pciIrqs ?? [];
  const sci = opts.sciIrq ?? SCI_IRQ;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 254) {
    throw new MpTableError(`MP table: ${cpus} vCPUs is out of range (1..254)`);
  }
  const ioapicId = cpus + 1;
  const isaBus = pciIrqs.length > 0 ? Math.max(...pciIrqs.map((p) => p.bus)) + 1 : 1;
  const entries: Uint8Array[] = [];
  const small = () => LeBytes.zeroed(MPC_SMALL_ENTRY_SIZE);
  // I/O (type 3) and local (type 4) interrupt entries share one layout: type, irqtype, irqflag, source bus/IRQ,
  // destination APIC ID and pin (LINTn for local entries).
  const intsrc = (
    type: number,
    irqType: number,
    flags: number,
    bus: number,
    busIrq: number,
    apic: number,
    pin: number,
  ) =>
    entries.push(
      small()
        .setU8(0, type)
        .setU8(1, irqType)
        .setU16(2, flags)
        .setU8(4, bus)
        .setU8(5, busIrq)
        .setU8(6, apic)
        .setU8(7, pin).bytes,
    );

  for (let id = 0; id < cpus; id++) {
    const cpu = LeBytes.zeroed(MPC_CPU_SIZE)
      .setU8(0, MP_PROCESSOR)
      .setU8(1, id)
      .setU8(2, APIC_VERSION)
      .setU8(3, CPU_ENABLED | (id === 0 ? CPU_BOOTPROCESSOR : 0))
      .setU32(4, CPU_SIGNATURE)
      .setU32(8, CPU_FEATURES);
    entries.push(cpu.bytes);
  }
  entries.push(
    small()
      .setU8(0, MP_IOAPIC)
      .setU8(1, ioapicId)
      .setU8(2, APIC_VERSION)
      .setU8(3, MPC_APIC_USABLE)
      .setU32(4, IOAPIC_ADDR).bytes,
  );
  for (let bus = 0; bus < isaBus; bus++)
    entries.push(small().setU8(0, MP_BUS).setU8(1, bus).setAscii(2, "PCI", 6, 0x20).bytes);
  entries.push(small().setU8(0, MP_BUS).setU8(1, isaBus).setAscii(2, "ISA", 6, 0x20).bytes);
  // crosvm's first local-interrupt entry: ISA IRQ 0 as a plain INT to LINT0 of APIC 0.
  intsrc(MP_LINTSRC, MP_IRQTYPE_INT, MP_IRQDIR_DEFAULT, isaBus, 0, 0, 0);
  // ISA IRQs below the SCI and the RTC, identity-mapped onto IOAPIC pins (as kvm_setup_default_irq_routing).
  for (const irq of [...Array.from({ length: sci }, (_, i) => i), RTC_IRQ]) {
    intsrc(MP_INTSRC, MP_IRQTYPE_INT, MP_IRQDIR_DEFAULT, isaBus, irq, ioapicId, irq);
  }
  intsrc(MP_INTSRC, MP_IRQTYPE_INT, MP_IRQDIR_HIGH | MP_LEVEL_TRIGGER, isaBus, sci, ioapicId, sci);
  for (const p of pciIrqs) {
    if (p.gsi > 0xff) throw new MpTableError(`MP table: PCI IRQ ${p.gsi} does not fit an IOAPIC pin number`);
    intsrc(MP_INTSRC, MP_IRQTYPE_INT, MP_IRQDIR_DEFAULT, p.bus, (p.dev << 2) | p.pin, ioapicId, p.gsi);
  }
  const firstIsa = Math.max(FIRST_DEVICE_IRQ, ...pciIrqs.map((p) => p.gsi + 1));
  for (let irq = firstIsa; irq < 16; irq++)
    intsrc(MP_INTSRC, MP_IRQTYPE_INT, MP_IRQDIR_DEFAULT, isaBus, irq, ioapicId, irq);
  intsrc(MP_LINTSRC, MP_IRQTYPE_EXTINT, MP_IRQDIR_DEFAULT, isaBus, 0, 0, 0);
  // NMI to LINT1 of every local APIC (destination 0xff), as SeaBIOS does.
  intsrc(MP_LINTSRC, MP_IRQTYPE_NMI, MP_IRQDIR_DEFAULT, isaBus, 0, 0xff, 1);

  const length = MPC_TABLE_SIZE + entries.reduce((n, e) => n + e.length, 0);
  const table = LeBytes.zeroed(length)
    .setAscii(0, "PCMP")
    .setU16(4, length)
    .setU8(6, 4) // spec revision 1.4
    .setAscii(8, "CROSVM  ", 8)
    .setAscii(16, "000000000000", 12)
    .setU32(36, LAPIC_ADDR);
  let at = MPC_TABLE_SIZE;
  for (const e of entries) {
    table.bytes.set(e, at);
    at += e.length;
  }
  fixChecksum(table.bytes, 7);
  return table.bytes;
}

/** The 16-byte MP floating pointer structure pointing at `tableAddr`. */
export function buildMpFloatingPointer(tableAddr: number): Uint8Array {
  const mpf = LeBytes.zeroed(MPF_SIZE)
    .setAscii(0, "_MP_")
    .setU32(4, tableAddr)
    .setU8(8, 1) // length in 16-byte paragraphs
    .setU8(9, 4); // spec revision 1.4
  fixChecksum(mpf.bytes, 10);
  return mpf.bytes;
}

/** Writes the MP table into guest memory below 640 KiB. */
export function writeMpTable(mem: GuestMemory, opts: MpTableOptions): void {
  const table = buildMpConfigTable(opts);
  if (MPTABLE_START + table.length > MPTABLE_END) {
    throw new MpTableError(
      `MP table is ${table.length} bytes; only ${MPTABLE_END - MPTABLE_START} are reserved`,
    );
  }
  if (!mem.isValidRange(MPTABLE_START, MP_FLOATING_POINTER_ADDR + MPF_SIZE - MPTABLE_START)) {
    throw new MpTableError("MP table area below 640 KiB is outside guest RAM");
  }
  mem.write(MPTABLE_START, table);
  mem.write(MP_FLOATING_POINTER_ADDR, buildMpFloatingPointer(MPTABLE_START));
}
