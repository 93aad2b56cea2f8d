// What the PCI unit tests share: little-endian register values, CONFIG_ADDRESS values for the 0xCF8 mechanism
// (PCI Local Bus spec 3.0, 3.2.2.3.2: enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2), a
// plain test function.
import { PciConfiguration } from "../../../src/devices/pci/config_space.ts";
import type { PciDevice } from "../../../src/devices/pci/pci_device.ts";

export const le32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

export const u32 = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

export const cf8 = (bus: number, dev: number, fn: number, reg: number): number =>
  (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg << 2)) >>> 0;

/** A function with the given vendor ID (device 0x5678, class 0xff) and, unless `bar` is false, a 4 KiB BAR0. */
export function testDevice(vendorId = 0x1234, bar = true): PciDevice {
  const config = new PciConfiguration({ vendorId, deviceId: 0x5678, classCode: 0xff, subclass: 0 });
  if (bar) config.addBar({ index: 0, size: 0x1000, kind: "mem32" });
  return {
    debugLabel: "test device",
    config,
    readConfigRegister: (r) => config.readReg(r),
    writeConfigRegister: (r, o, d) => config.writeReg(r, o, d),
    readBar: () => {},
    writeBar: () => {},
  };
}
