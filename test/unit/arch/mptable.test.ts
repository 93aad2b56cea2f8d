import { describe, expect, test } from "bun:test";
import { LeBytes, byteSum } from "../../../src/arch/x86_64/bytes.ts";
import { MP_FLOATING_POINTER_ADDR, MPTABLE_START } from "../../../src/arch/x86_64/layout.ts";
import { MpTableError, type MpTableOptions, writeMpTable } from "../../../src/arch/x86_64/mptable.ts";
import { guestMemory } from "./fake_kernels.ts";

interface ParsedMp {
  mpfOk: boolean;
  tableOk: boolean;
  tableAddr: number;
  lapic: number;
  cpus: { apicId: number; flags: number }[];
  ioapics: { id: number; addr: number; flags: number }[];
  buses: { id: number; type: string }[];
  intsrcs: { irqType: number; flags: number; bus: number; busIrq: number; apic: number; pin: number }[];
  lintsrcs: { irqType: number; apic: number; lint: number }[];
}

/** Reads the MP table back the way Linux's mpparse.c does. */
function parseMp(opts: MpTableOptions): ParsedMp {
  const mem = guestMemory(16);
  writeMpTable(mem, opts);
  const mpf = mem.read(MP_FLOATING_POINTER_ADDR, 16);
  const f = new LeBytes(mpf);
  expect(f.ascii(0, 4)).toBe("_MP_");
  expect([f.u8(8), f.u8(9)]).toEqual([1, 4]);
  const tableAddr = f.u32(4);
  const header = new LeBytes(mem.read(tableAddr, 44));
  expect(header.ascii(0, 4)).toBe("PCMP");
  const length = header.u16(4);
  const table = new LeBytes(mem.read(tableAddr, length));
  const out: ParsedMp = {
    mpfOk: byteSum(mpf) === 0,
    tableOk: byteSum(table.bytes) === 0,
    tableAddr,
    lapic: table.u32(36),
    cpus: [],
    ioapics: [],
    buses: [],
    intsrcs: [],
    lintsrcs: [],
  };
  let at = 44;
  while (at < length) {
    const type = table.u8(at);
    if (type === 0) {
      out.cpus.push({ apicId: table.u8(at + 1), flags: table.u8(at + 3) });
      at += 20;
      continue;
    }
    if (type === 1) out.buses.push({ id: table.u8(at + 1), type: table.ascii(at + 2, 6) });
    else if (type === 2)
      out.ioapics.push({ id: table.u8(at + 1), flags: table.u8(at + 3), addr: table.u32(at + 4) });
    else if (type === 3) {
      out.intsrcs.push({
        irqType: table.u8(at + 1),
        flags: table.u16(at + 2),
        bus: table.u8(at + 4),
        busIrq: table.u8(at + 5),
        apic: table.u8(at + 6),
        pin: table.u8(at + 7),
      });
    } else if (type === 4)
      out.lintsrcs.push({ irqType: table.u8(at + 1), apic: table.u8(at + 6), lint: table.u8(at + 7) });
    else throw new Error(`unknown MP entry type ${type}`);
    at += 8;
  }
  expect(at).toBe(length);
  return out;
}

describe("MP table", () => {
  test("the floating pointer sits in the last 16 bytes below 640 KiB and points at the table", () => {
    const mp = parseMp({ cpus: 1 });
    expect(MP_FLOATING_POINTER_ADDR).toBe(0x9fff0);
    expect(mp.tableAddr).toBe(MPTABLE_START);
  });

  test("both checksums sum to zero", () => {
    const mp = parseMp({ cpus: 3 });
    expect(mp.mpfOk).toBe(true);
    expect(mp.tableOk).toBe(true);
  });

  test("has one enabled processor per vCPU with APIC ID = index and vCPU 0 as the BSP", () => {
    const mp = parseMp({ cpus: 4 });
    expect(mp.cpus).toEqual([
      { apicId: 0, flags: 3 },
      { apicId: 1, flags: 1 },
      { apicId: 2, flags: 1 },
      { apicId: 3, flags: 1 },
    ]);
  });

  test("names the local APIC and one IOAPIC after the processors", () => {
    const mp = parseMp({ cpus: 2 });
    expect(mp.lapic).toBe(0xfee0_0000);
    expect(mp.ioapics).toEqual([{ id: 3, flags: 1, addr: 0xfec0_0000 }]);
  });

  test("lists a PCI bus 0 and the ISA bus 1", () => {
    expect(parseMp({ cpus: 1 }).buses).toEqual([
      { id: 0, type: "PCI   " },
      { id: 1, type: "ISA   " },
    ]);
  });

  test("routes ISA IRQs to the same IOAPIC pins, skipping 6 and 7", () => {
    const mp = parseMp({ cpus: 1 });
    const isa = mp.intsrcs.filter((i) => i.bus === 1).map((i) => [i.busIrq, i.pin]);
    const irqs = [0, 1, 2, 3, 4, 8, 5, 9, 10, 11, 12, 13, 14, 15];
    expect(isa).toEqual(irqs.map((i) => [i, i]));
    expect(mp.intsrcs.every((i) => i.apic === 2)).toBe(true);
  });

  test("marks the SCI level-triggered active-high", () => {
    const sci = parseMp({ cpus: 1 }).intsrcs.find((i) => i.busIrq === 5)!;
    expect(sci.flags).toBe(0xd);
  });

  test("routes PCI INTx by device and pin, and starts ISA IRQs after them", () => {
    const mp = parseMp({
      cpus: 1,
      pciIrqs: [
        { bus: 0, dev: 1, pin: 0, gsi: 9 },
        { bus: 0, dev: 2, pin: 1, gsi: 10 },
      ],
    });
    const pci = mp.intsrcs.filter((i) => i.bus === 0);
    expect(pci.map((i) => [i.busIrq, i.pin])).toEqual([
      [4, 9],
      [9, 10],
    ]);
    expect(mp.intsrcs.filter((i) => i.bus === 1).map((i) => i.busIrq)).not.toContain(9);
  });

  test("wires LINT0 to ExtINT and LINT1 to NMI", () => {
    const lint = parseMp({ cpus: 2 }).lintsrcs.filter((l) => l.irqType !== 0);
    expect(lint).toEqual([
      { irqType: 3, apic: 0, lint: 0 },
      { irqType: 1, apic: 0xff, lint: 1 },
    ]);
  });

  test("the largest vCPU count still fits its area", () => {
    expect(parseMp({ cpus: 254 }).cpus).toHaveLength(254);
  });

  test("255 vCPUs leave no IOAPIC ID and are refused", () => {
    expect(() => writeMpTable(guestMemory(16), { cpus: 255 })).toThrow(MpTableError);
  });
});
