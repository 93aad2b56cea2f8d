import { describe, expect, test } from "bun:test";
import { BarAllocator, LOW_MMIO_END, LOW_MMIO_START } from "../../../src/devices/pci/bar_allocator.ts";
import {
  PCI_CAPABILITY_LIST,
  PCI_STATUS_CAP_LIST,
  PciConfiguration,
} from "../../../src/devices/pci/config_space.ts";
import { MsixConfig } from "../../../src/devices/pci/msix.ts";
import type { PciDevice } from "../../../src/devices/pci/pci_device.ts";
import { RecordingIrq } from "../../../src/devices/irq.ts";

const header = { vendorId: 0x1af4, deviceId: 0x1042, classCode: 0x01, subclass: 0x80 };
const le32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

describe("PCI configuration header", () => {
  test("dword 0 holds device and vendor IDs", () => {
    const c = new PciConfiguration(header);
    expect(c.readReg(0)).toBe(0x1042_1af4);
  });

  test("dword 2 holds class, subclass, prog-if and revision", () => {
    const c = new PciConfiguration({ ...header, revision: 1 });
    expect(c.readReg(2)).toBe(0x0180_0001);
  });

  test("writes to read-only IDs are ignored", () => {
    const c = new PciConfiguration(header);
    c.writeReg(0, 0, le32(0xdeadbeef));
    expect(c.readReg(0)).toBe(0x1042_1af4);
  });

  test("the command register keeps only its writable bits", () => {
    const c = new PciConfiguration(header);
    c.writeReg(1, 0, Uint8Array.of(0xff, 0xff));
    expect(c.command).toBe(0x0407);
  });
});

describe("BAR sizing (PCI 3.0 section 6.2.5.1)", () => {
  test("writing all ones to a 32-bit memory BAR reads back the size mask", () => {
    const c = new PciConfiguration(header);
    c.addBar({ index: 0, size: 0x8000, kind: "mem32" });
    c.writeReg(4, 0, le32(0xffffffff));
    expect(c.readReg(4)).toBe(0xffff8000);
  });

  test("a 64-bit BAR reports type 64 and sizes through both dwords", () => {
    const c = new PciConfiguration(header);
    c.addBar({ index: 2, size: 0x1_0000_0000, kind: "mem64", prefetchable: true });
    c.writeReg(6, 0, le32(0xffffffff));
    c.writeReg(7, 0, le32(0xffffffff));
    expect(c.readReg(6)).toBe(0x0000000c);
    expect(c.readReg(7)).toBe(0xffffffff);
  });

  test("a programmed address reads back with the flag bits", () => {
    const c = new PciConfiguration(header);
    c.addBar({ index: 1, size: 0x1000, kind: "mem64" });
    c.setBarAddress(1, 0x1_2345_6000);
    expect(c.readReg(5)).toBe(0x2345_6004);
    expect(c.readReg(6)).toBe(1);
    expect(c.barAddress(1)).toBe(0x1_2345_6000);
  });

  test("a BAR size that is not a power of two is refused", () => {
    const c = new PciConfiguration(header);
    expect(() => c.addBar({ index: 0, size: 0x3000, kind: "mem32" })).toThrow("power of two");
  });

  test("the upper half of a 64-bit BAR cannot be declared again", () => {
    const c = new PciConfiguration(header);
    c.addBar({ index: 0, size: 0x1000, kind: "mem64" });
    expect(() => c.addBar({ index: 1, size: 0x1000, kind: "mem32" })).toThrow("already in use");
  });
});

describe("capability list (PCI 3.0 section 6.7)", () => {
  test("capabilities are linked from 0x34 and the status bit is set", () => {
    const c = new PciConfiguration(header);
    const a = c.addCapability(Uint8Array.of(0x09, 0, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    const b = c.addCapability(Uint8Array.of(0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    const bytes = c.bytes();
    const walk: number[] = [];
    for (let p = bytes[PCI_CAPABILITY_LIST]!; p !== 0; p = bytes[p + 1]!) walk.push(bytes[p]!);
    expect(walk).toEqual([0x09, 0x11]);
    expect([a, b]).toEqual([0x40, 0x50]);
    expect((c.readReg(1) >>> 16) & PCI_STATUS_CAP_LIST).toBe(PCI_STATUS_CAP_LIST);
  });
});

describe("BAR allocation", () => {
  const device = (c: PciConfiguration): PciDevice => ({
    debugLabel: "test",
    config: c,
    readConfigRegister: (r) => c.readReg(r),
    writeConfigRegister: () => {},
    readBar: () => {},
    writeBar: () => {},
  });

  test("32-bit BARs go to the low MMIO window, naturally aligned", () => {
    const alloc = new BarAllocator(0x1_0000_0000);
    const a = new PciConfiguration(header);
    a.addBar({ index: 0, size: 0x1000, kind: "mem32" });
    const b = new PciConfiguration(header);
    b.addBar({ index: 0, size: 0x8000, kind: "mem32" });
    alloc.placeDevice(device(a));
    alloc.placeDevice(device(b));
    expect(a.barAddress(0)).toBe(LOW_MMIO_START);
    expect(b.barAddress(0)).toBe(LOW_MMIO_START + 0x8000);
  });

  test("64-bit BARs go above the end of RAM", () => {
    const alloc = new BarAllocator(0x2_4000_0000);
    const a = new PciConfiguration(header);
    a.addBar({ index: 0, size: 0x10_0000, kind: "mem64" });
    alloc.placeDevice(device(a));
    expect(a.barAddress(0)).toBe(0x2_4000_0000);
  });

  test("a full low window fails with the device named", () => {
    const alloc = new BarAllocator(2 ** 32, 2 ** 46, LOW_MMIO_START, LOW_MMIO_START + 0x1000);
    const a = new PciConfiguration(header);
    a.addBar({ index: 0, size: 0x2000, kind: "mem32" });
    expect(() => alloc.placeDevice(device(a))).toThrow("test BAR 0");
    expect(LOW_MMIO_END).toBe(0xf400_0000);
  });
});

describe("MSI-X", () => {
  const entry = (addrLo: number, data: number, ctl: number) => {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint32(0, addrLo, true);
    v.setUint32(8, data, true);
    v.setUint32(12, ctl, true);
    return b;
  };

  test("vectors start masked and Table Size reads N-1", () => {
    const m = new MsixConfig(3);
    expect(m.vector(0).masked).toBe(true);
    expect(m.messageControl & 0x7ff).toBe(2);
  });

  test("the vector listener hears address, data and mask changes", () => {
    const seen: [number, number, boolean][] = [];
    const m = new MsixConfig(2, undefined, (v, s) => seen.push([v, s.data, s.masked]));
    m.messageControl = 0x8000;
    m.writeTable(16, entry(0xfee00000, 0x41, 0));
    expect(seen.at(-1)).toEqual([1, 0x41, false]);
  });

  test("a masked vector sets its pending bit and fires when unmasked (6.8.2.10)", () => {
    const irqs = [new RecordingIrq(), new RecordingIrq()];
    const m = new MsixConfig(2, (v) => irqs[v]);
    m.messageControl = 0x8000;
    m.writeTable(16, entry(0xfee00000, 0x41, 1));
    m.trigger(1);
    const pba = new Uint8Array(8);
    m.readPba(0, pba);
    expect(pba[0]).toBe(2);
    m.writeTable(28, le32(0));
    expect(irqs[1]!.count).toBe(1);
    expect(m.isPending(1)).toBe(false);
  });

  test("the function mask holds back every vector", () => {
    const irq = new RecordingIrq();
    const m = new MsixConfig(1, () => irq);
    m.writeTable(0, entry(0xfee00000, 0x30, 0));
    m.messageControl = 0x8000 | 0x4000;
    expect(m.trigger(0)).toBe(false);
    expect(irq.count).toBe(0);
  });
});

describe("header registers beyond type 0 (defineRegister)", () => {
  test("a defined register keeps only its writable bits", () => {
    const c = new PciConfiguration(header);
    c.defineRegister(8, 0x1000_2000, 0xfff0_0000);
    c.writeReg(8, 0, le32(0xffff_ffff));
    expect(c.readReg(8)).toBe(0xfff0_2000);
  });

  test("a register holding a BAR is refused", () => {
    const c = new PciConfiguration(header);
    c.addBar({ index: 0, size: 0x1000, kind: "mem32" });
    expect(() => c.defineRegister(4, 0, 0)).toThrow("holds BAR 0");
  });

  test("header type 1 reads back at 0x0E", () => {
    const c = new PciConfiguration({ ...header, headerType: 1 });
    expect((c.readReg(3) >>> 16) & 0xff).toBe(1);
  });
});
