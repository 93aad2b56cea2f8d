import { describe, expect, test } from "bun:test";
import { Bus } from "../../../src/devices/bus.ts";
import {
  PCI_CONFIG_IO_BASE,
  PCI_CONFIG_IO_LEN,
  PCIE_ECAM_BASE,
  PCIE_ECAM_SIZE,
  PciRoot,
} from "../../../src/devices/pci/pci_root.ts";
import { cf8, le32, testDevice, u32 } from "./fixture.ts";

function ioBus(root: PciRoot): Bus {
  const bus = new Bus("io");
  bus.insert(root.configIo(), PCI_CONFIG_IO_BASE, PCI_CONFIG_IO_LEN);
  return bus;
}

function ioRead32(bus: Bus, addr: number): number {
  bus.write(0xcf8, le32(addr));
  const d = new Uint8Array(4);
  bus.read(0xcfc, d);
  return u32(d);
}

describe("configuration mechanism #1 (ports 0xCF8/0xCFC)", () => {
  test("the host bridge 00:00.0 reads 8086:1237", () => {
    const bus = ioBus(new PciRoot());
    expect(ioRead32(bus, cf8(0, 0, 0, 0))).toBe(0x1237_8086);
  });

  test("the host bridge has class 06 00 (bridge, host)", () => {
    const bus = ioBus(new PciRoot());
    expect(ioRead32(bus, cf8(0, 0, 0, 2)) >>> 16).toBe(0x0600);
  });

  test("an empty slot reads all ones", () => {
    const bus = ioBus(new PciRoot());
    expect(ioRead32(bus, cf8(0, 5, 0, 0))).toBe(0xffffffff);
  });

  test("CONFIG_ADDRESS reads back what was written (Linux's type-1 probe)", () => {
    const bus = ioBus(new PciRoot());
    bus.write(0xcf8, le32(0x8000_0000));
    const d = new Uint8Array(4);
    bus.read(0xcf8, d);
    expect(u32(d)).toBe(0x8000_0000);
  });

  test("a 16-bit read at 0xCFE returns the upper half of the dword", () => {
    const bus = ioBus(new PciRoot());
    bus.write(0xcf8, le32(cf8(0, 0, 0, 0)));
    const d = new Uint8Array(2);
    bus.read(0xcfe, d);
    expect(d[0]! | (d[1]! << 8)).toBe(0x1237);
  });

  test("BAR sizing through the data port reports the size", () => {
    const root = new PciRoot();
    root.add(testDevice(), { bus: 0, device: 3, function: 0 });
    const bus = ioBus(root);
    bus.write(0xcf8, le32(cf8(0, 3, 0, 4)));
    bus.write(0xcfc, le32(0xffffffff));
    expect(ioRead32(bus, cf8(0, 3, 0, 4))).toBe(0xfffff000);
  });

  test("a reprogrammed BAR is reported to the VMM", () => {
    const root = new PciRoot();
    root.add(testDevice(), { bus: 0, device: 3, function: 0 });
    const moves: [number, number, number][] = [];
    root.onBarMoved = (_d, i, from, to) => moves.push([i, from, to]);
    const bus = ioBus(root);
    bus.write(0xcf8, le32(cf8(0, 3, 0, 4)));
    bus.write(0xcfc, le32(0xe000_0000));
    expect(moves).toEqual([[0, 0, 0xe000_0000]]);
  });
});

describe("PCIe ECAM", () => {
  test("ECAM reads the same registers as port I/O", () => {
    const root = new PciRoot();
    root.add(testDevice(), { bus: 0, device: 2, function: 0 });
    const bus = new Bus("mmio");
    bus.insert(root.ecam(), PCIE_ECAM_BASE, PCIE_ECAM_SIZE);
    const d = new Uint8Array(4);
    bus.read(PCIE_ECAM_BASE + (2 << 15), d);
    expect(u32(d)).toBe(0x5678_1234);
  });

  test("extended configuration space of a present device reads zero", () => {
    const bus = new Bus("mmio");
    bus.insert(new PciRoot().ecam(), PCIE_ECAM_BASE, PCIE_ECAM_SIZE);
    const d = new Uint8Array(4);
    bus.read(PCIE_ECAM_BASE + 0x100, d);
    expect(u32(d)).toBe(0);
  });

  test("adding two devices at one address is refused with both named", () => {
    const root = new PciRoot();
    expect(() => root.add(testDevice(), { bus: 0, device: 0, function: 0 })).toThrow(
      "00:00.0 is already used by pci host bridge",
    );
  });
});

describe("removing a function (hot-unplug)", () => {
  test("a removed function reads all ones again, through the root and its presence map", () => {
    const root = new PciRoot();
    root.add(testDevice(), { bus: 3, device: 0, function: 0 });

    root.remove({ bus: 3, device: 0, function: 0 });

    expect([root.configRead(3, 0, 0, 0), root.presence.has(3, 0, 0)]).toEqual([0xffffffff, false]);
  });

  test("the host bridge cannot be removed", () => {
    const root = new PciRoot();

    root.remove({ bus: 0, device: 0, function: 0 });

    expect(root.configRead(0, 0, 0, 0)).toBe(0x1237_8086);
  });

  test("the address can be used again after removal", () => {
    const root = new PciRoot();
    root.add(testDevice(), { bus: 3, device: 0, function: 0 });
    root.remove({ bus: 3, device: 0, function: 0 });

    root.add(testDevice(0x4321), { bus: 3, device: 0, function: 0 });

    expect(root.configRead(3, 0, 0, 0)).toBe(0x5678_4321);
  });
});
