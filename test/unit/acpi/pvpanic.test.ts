import { describe, expect, test } from "bun:test";
import { attachPciDevice } from "../../../src/devices/pci/attach.ts";
import { BarAllocator } from "../../../src/devices/pci/bar_allocator.ts";
import { PCI_BAR0 } from "../../../src/devices/pci/config_space.ts";
import { PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { Bus } from "../../../src/devices/bus.ts";
import {
  PVPANIC_BAR_INDEX,
  PVPANIC_CRASH_LOADED,
  PVPANIC_PANICKED,
  PvPanic,
} from "../../../src/devices/pvpanic.ts";

const byte = (v: number) => Uint8Array.of(v);

function readBar(dev: PvPanic, offset: number, len = 1): number[] {
  const d = new Uint8Array(len).fill(0xee);
  dev.readBar(PVPANIC_BAR_INDEX, offset, d);
  return [...d];
}

describe("pvpanic PCI device", () => {
  test("it has QEMU's pvpanic-pci IDs 1b36:0011 and crosvm's class, revision 1", () => {
    const dev = new PvPanic();

    expect(dev.readConfigRegister(0)).toBe(0x0011_1b36);
    expect(dev.readConfigRegister(2) >>> 0).toBe(0xff80_0001);
  });

  test("BAR 0 is a 16-byte 32-bit memory BAR", () => {
    const dev = new PvPanic();

    dev.writeConfigRegister(PCI_BAR0 / 4, 0, Uint8Array.of(0xff, 0xff, 0xff, 0xff));

    expect(dev.readConfigRegister(PCI_BAR0 / 4) >>> 0).toBe(0xffff_fff0);
  });

  test("a byte read at offset 0 reports the supported events PANICKED | CRASH_LOADED", () => {
    const dev = new PvPanic();

    expect(readBar(dev, 0)).toEqual([PVPANIC_PANICKED | PVPANIC_CRASH_LOADED]);
  });

  test("reads elsewhere or wider return 0", () => {
    const dev = new PvPanic();

    expect(readBar(dev, 1)).toEqual([0]);
    expect(readBar(dev, 0, 4)).toEqual([0, 0, 0, 0]);
  });

  test("a PANICKED write calls onPanic with the code and records it", () => {
    const codes: number[] = [];
    const dev = new PvPanic({ onPanic: (c) => codes.push(c) });

    dev.writeBar(PVPANIC_BAR_INDEX, 0, byte(PVPANIC_PANICKED));

    expect(codes).toEqual([PVPANIC_PANICKED]);
    expect(dev.panicCode).toBe(PVPANIC_PANICKED);
  });

  test("a CRASH_LOADED write is reported with its own code", () => {
    const codes: number[] = [];
    const dev = new PvPanic({ onPanic: (c) => codes.push(c) });

    dev.writeBar(PVPANIC_BAR_INDEX, 0, byte(PVPANIC_CRASH_LOADED));

    expect(codes).toEqual([PVPANIC_CRASH_LOADED]);
  });

  test("writes of no known event, of two bytes or at another offset are ignored", () => {
    const codes: number[] = [];
    const dev = new PvPanic({ onPanic: (c) => codes.push(c) });

    dev.writeBar(PVPANIC_BAR_INDEX, 0, byte(0x80));
    dev.writeBar(PVPANIC_BAR_INDEX, 0, Uint8Array.of(PVPANIC_PANICKED, 0));
    dev.writeBar(PVPANIC_BAR_INDEX, 1, byte(PVPANIC_PANICKED));

    expect(codes).toEqual([]);
    expect(dev.panicCode).toBe(0);
  });

  test("a throwing handler does not escape into the vCPU loop", () => {
    const dev = new PvPanic({
      onPanic: () => {
        throw new Error("boom");
      },
    });

    expect(() => dev.writeBar(PVPANIC_BAR_INDEX, 0, byte(PVPANIC_PANICKED))).not.toThrow();
  });

  test("a copy over the same report cell sees the other copy's report", () => {
    const main = new PvPanic();
    const vcpuCopy = new PvPanic({ reportCell: main.reportCell });

    vcpuCopy.writeBar(PVPANIC_BAR_INDEX, 0, byte(PVPANIC_PANICKED));

    expect(main.panicCode).toBe(PVPANIC_PANICKED);
  });

  test("attached to the PCI root, a guest MMIO write to its BAR reports the panic", () => {
    const codes: number[] = [];
    const dev = new PvPanic({ onPanic: (c) => codes.push(c) });
    const mmio = new Bus("mmio");
    const { bars } = attachPciDevice(new PciRoot(), new BarAllocator(2 ** 32), mmio, dev);

    mmio.write(bars[0]!.addr, byte(PVPANIC_PANICKED));

    expect(codes).toEqual([PVPANIC_PANICKED]);
  });
});
