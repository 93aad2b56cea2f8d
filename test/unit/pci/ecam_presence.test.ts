import { describe, expect, test } from "bun:test";
import type { BusDevice } from "../../../src/devices/bus.ts";
import { PciConfiguration } from "../../../src/devices/pci/config_space.ts";
import { EcamWithPresence, PciPresence } from "../../../src/devices/pci/ecam_presence.ts";
import type { PciDevice } from "../../../src/devices/pci/pci_device.ts";
import { PciRoot } from "../../../src/devices/pci/pci_root.ts";
import { registerDeviceKind, reviveDevice } from "../../../src/devices/shared_device.ts";

class CountingDevice implements BusDevice {
  readonly debugLabel = "ecam";
  reads = 0;
  writes = 0;
  read(_offset: number, data: Uint8Array): void {
    this.reads++;
    data.fill(0x11);
  }
  write(): void {
    this.writes++;
  }
}

class CountingPciDevice implements PciDevice {
  readonly debugLabel = "test function";
  readonly config = new PciConfiguration({ vendorId: 0x1234, deviceId: 1, classCode: 0xff, subclass: 0 });
  readConfigRegister(reg: number): number {
    return this.config.readReg(reg);
  }
  writeConfigRegister(): void {}
  readBar(): void {}
  writeBar(): void {}
}

const ecamOffset = (bus: number, dev: number, fn: number, reg = 0) =>
  (bus << 20) | (dev << 15) | (fn << 12) | reg;

describe("ECAM with a presence map", () => {
  test("a read of an absent function answers all-ones without reaching the root", () => {
    const inner = new CountingDevice();
    const ecam = new EcamWithPresence(inner, new PciPresence());
    const data = new Uint8Array(4);

    ecam.read(ecamOffset(5, 0, 0), data);

    expect([...data]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(inner.reads).toBe(0);
  });

  test("accesses to a present function reach the root", () => {
    const inner = new CountingDevice();
    const presence = new PciPresence();
    presence.add({ bus: 0, device: 3, function: 1 });
    const ecam = new EcamWithPresence(inner, presence);
    const data = new Uint8Array(2);

    ecam.read(ecamOffset(0, 3, 1, 0x10), data);
    ecam.write(ecamOffset(0, 3, 1, 0x04), Uint8Array.of(2, 0));

    expect([...data]).toEqual([0x11, 0x11]);
    expect([inner.reads, inner.writes]).toEqual([1, 1]);
  });

  test("a write to an absent function is dropped", () => {
    const inner = new CountingDevice();
    const ecam = new EcamWithPresence(inner, new PciPresence());

    ecam.write(ecamOffset(0, 7, 0, 0x04), Uint8Array.of(2));

    expect(inner.writes).toBe(0);
  });

  test("presence is per bus, device and function", () => {
    const presence = new PciPresence();

    presence.add({ bus: 1, device: 2, function: 3 });

    expect(presence.has(1, 2, 3)).toBe(true);
    expect(presence.has(1, 2, 4)).toBe(false);
    expect(presence.has(2, 2, 3)).toBe(false);
  });
});

describe("the PCI root's ECAM window in the vCPU thread", () => {
  test("the root marks every function it adds as present, the host bridge included", () => {
    const root = new PciRoot();

    root.add(new CountingPciDevice(), { bus: 0, device: 4, function: 2 });

    expect(root.presence.has(0, 0, 0)).toBe(true);
    expect(root.presence.has(0, 4, 2)).toBe(true);
    expect(root.presence.has(0, 4, 0)).toBe(false);
  });

  test("its vCPU share answers absent functions itself and forwards present ones", () => {
    const root = new PciRoot();
    const forward = new CountingDevice();
    registerDeviceKind("test-forward-ecam", () => forward);
    const ecam = reviveDevice(root.ecam().vcpuShare({ kind: "test-forward-ecam", state: null }));
    const [absent, present] = [new Uint8Array(4), new Uint8Array(4)];

    ecam.read(ecamOffset(1, 0, 0), absent);
    ecam.read(ecamOffset(0, 0, 0), present);

    expect([...absent]).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect([...present]).toEqual([0x11, 0x11, 0x11, 0x11]);
    expect(forward.reads).toBe(1);
  });
});
