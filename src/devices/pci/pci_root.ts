// The PCI root complex: functions by bus/device/function, reached through configuration mechanism #1
// (I/O ports 0xCF8 address / 0xCFC data, PCI 3.0 section 3.2.2.3.2) and PCIe ECAM (PCIe 4.0 section 7.2.2,
// offset = bus << 20 | device << 15 | function << 12 | register). Host bridge 00:00.0 is always present.
import type { BusDevice } from "../bus.ts";
import { PCI_BAR0, PCI_BAR_COUNT, PCI_CONFIG_REGS, PciConfiguration } from "./config_space.ts";
import type { PciDevice } from "./pci_device.ts";

export const PCI_CONFIG_IO_BASE = 0xcf8;
export const PCI_CONFIG_IO_LEN = 8;
/** ECAM window (issue 4 layout): 64 MiB = 64 buses. */
export const PCIE_ECAM_BASE = 0xf400_0000;
export const PCIE_ECAM_SIZE = 64 << 20;

/** Intel 440FX host bridge IDs, which Linux accepts as a plain host bridge (class 06 00). */
export const HOST_BRIDGE_VENDOR = 0x8086;
export const HOST_BRIDGE_DEVICE = 0x1237;

export interface PciAddress {
  readonly bus: number;
  readonly device: number;
  readonly function: number;
}

export const formatPciAddress = (a: PciAddress) =>
  `${a.bus.toString(16).padStart(2, "0")}:${a.device.toString(16).padStart(2, "0")}.${a.function}`;

const key = (bus: number, dev: number, fn: number) => (bus << 8) | (dev << 3) | fn;

export class PciRootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PciRootError";
  }
}

/** Called when the guest reprograms a BAR, so the VMM can move the bus entry and ioeventfds with it. */
export type BarMovedListener = (device: PciDevice, index: number, from: number, to: number) => void;

/** 00:00.0: a host bridge with no BARs. */
export class HostBridge implements PciDevice {
  readonly debugLabel = "pci host bridge";
  readonly config = new PciConfiguration({
    vendorId: HOST_BRIDGE_VENDOR,
    deviceId: HOST_BRIDGE_DEVICE,
    classCode: 0x06, // bridge
    subclass: 0x00, // host bridge
  });
  readConfigRegister(reg: number): number {
    return this.config.readReg(reg);
  }
  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void {
    this.config.writeReg(reg, offset, data);
  }
  readBar(_index: number, _offset: number, data: Uint8Array): void {
    data.fill(0);
  }
  writeBar(): void {}
}

export class PciRoot {
  readonly #devices = new Map<number, PciDevice>();
  onBarMoved: BarMovedListener = () => {};

  constructor() {
    this.add(new HostBridge(), { bus: 0, device: 0, function: 0 });
  }

  add(device: PciDevice, at: PciAddress): void {
    if (at.bus < 0 || at.bus > 255 || at.device < 0 || at.device > 31 || at.function < 0 || at.function > 7)
      throw new PciRootError(`${device.debugLabel}: PCI address ${formatPciAddress(at)} is out of range`);
    const k = key(at.bus, at.device, at.function);
    const other = this.#devices.get(k);
    if (other)
      throw new PciRootError(
        `${device.debugLabel}: PCI address ${formatPciAddress(at)} is already used by ${other.debugLabel}`,
      );
    this.#devices.set(k, device);
  }

  /** The first free device number on bus 0 (function 0), for devices given no address. */
  nextFreeDevice(): number {
    for (let d = 1; d < 32; d++) if (!this.#devices.has(key(0, d, 0))) return d;
    throw new PciRootError("PCI bus 0 has no free device slot");
  }

  device(at: PciAddress): PciDevice | undefined {
    return this.#devices.get(key(at.bus, at.device, at.function));
  }

  get devices(): [PciAddress, PciDevice][] {
    return [...this.#devices].map(([k, d]) => [{ bus: k >> 8, device: (k >> 3) & 31, function: k & 7 }, d]);
  }

  /** Dword `reg` of a function's configuration space; all ones when nothing is there (PCI 3.0 section 6.1). */
  configRead(bus: number, dev: number, fn: number, reg: number): number {
    const d = this.#devices.get(key(bus, dev, fn));
    if (!d) return 0xffffffff;
    if (reg >= PCI_CONFIG_REGS) return 0; // no PCIe extended capabilities
    try {
      return d.readConfigRegister(reg) >>> 0;
    } catch {
      return 0xffffffff;
    }
  }

  configWrite(bus: number, dev: number, fn: number, reg: number, offset: number, data: Uint8Array): void {
    const d = this.#devices.get(key(bus, dev, fn));
    if (!d || reg >= PCI_CONFIG_REGS) return;
    const barReg = reg - PCI_BAR0 / 4;
    const isBar = barReg >= 0 && barReg < PCI_BAR_COUNT;
    const before = isBar ? this.#barAddresses(d) : [];
    try {
      d.writeConfigRegister(reg, offset, data);
    } catch {
      return;
    }
    if (!isBar) return;
    const after = this.#barAddresses(d);
    for (let i = 0; i < PCI_BAR_COUNT; i++) {
      if (before[i] !== after[i] && d.config.bar(i)) this.onBarMoved(d, i, before[i]!, after[i]!);
    }
  }

  #barAddresses(d: PciDevice): number[] {
    return Array.from({ length: PCI_BAR_COUNT }, (_, i) => d.config.barAddress(i));
  }

  /**
   * Bus device for ports 0xCF8..0xCFF (configuration mechanism #1). `onResetControl` receives one-byte writes to
   * 0xCF9, the reset control register inside that window (crosvm's PciConfigIo does the same).
   */
  configIo(onResetControl?: (data: Uint8Array) => void): PciConfigIo {
    return new PciConfigIo(this, onResetControl);
  }

  /** Bus device for the ECAM window. */
  ecam(): PciEcam {
    return new PciEcam(this);
  }
}

/** Reads `data.length` bytes at byte `shift` of a dword. */
function extract(dword: number, shift: number, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) data[i] = shift + i < 4 ? (dword >>> (8 * (shift + i))) & 0xff : 0xff;
}

/** CONFIG_ADDRESS (0xCF8): enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2. */
export class PciConfigIo implements BusDevice {
  readonly debugLabel = "pci config io";
  #address = 0;

  constructor(
    readonly root: PciRoot,
    readonly onResetControl?: (data: Uint8Array) => void,
  ) {}

  read(offset: number, data: Uint8Array): void {
    if (offset < 4) {
      // Only the whole dword is CONFIG_ADDRESS; Linux's type-1 probe writes and reads it back as a dword.
      extract(this.#address, offset, data);
      return;
    }
    const a = this.#address;
    if (!(a & 0x8000_0000) || offset - 4 + data.length > 4) {
      data.fill(0xff);
      return;
    }
    const dword = this.root.configRead((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 7, (a >>> 2) & 0x3f);
    extract(dword, offset - 4, data);
  }

  write(offset: number, data: Uint8Array): void {
    if (offset === 0 && data.length === 4) {
      this.#address = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true) & 0x80ff_fffc;
      return;
    }
    if (offset === 1 && data.length === 1) {
      this.onResetControl?.(data);
      return;
    }
    if (offset < 4) return;
    const a = this.#address;
    if (!(a & 0x8000_0000) || offset - 4 + data.length > 4) return;
    this.root.configWrite(
      (a >>> 16) & 0xff,
      (a >>> 11) & 0x1f,
      (a >>> 8) & 7,
      (a >>> 2) & 0x3f,
      offset - 4,
      data,
    );
  }
}

export class PciEcam implements BusDevice {
  readonly debugLabel = "pcie ecam";
  constructor(readonly root: PciRoot) {}

  static decode(offset: number): { bus: number; dev: number; fn: number; reg: number; byte: number } {
    return {
      bus: (offset >>> 20) & 0xff,
      dev: (offset >>> 15) & 0x1f,
      fn: (offset >>> 12) & 7,
      reg: (offset & 0xfff) >>> 2,
      byte: offset & 3,
    };
  }

  read(offset: number, data: Uint8Array): void {
    const a = PciEcam.decode(offset);
    if (a.byte + data.length > 4) {
      data.fill(0xff);
      return;
    }
    extract(this.root.configRead(a.bus, a.dev, a.fn, a.reg), a.byte, data);
  }

  write(offset: number, data: Uint8Array): void {
    const a = PciEcam.decode(offset);
    if (a.byte + data.length > 4) return;
    this.root.configWrite(a.bus, a.dev, a.fn, a.reg, a.byte, data);
  }
}
