// The PCI root complex: functions by bus/device/function, reached through configuration mechanism #1
// (I/O ports 0xCF8 address / 0xCFC data, PCI 3.0 section 3.2.2.3.2) and PCIe ECAM (PCIe 4.0 section 7.2.2,
// offset = bus << 20 | device << 15 | function << 12 | register). Host bridge 00:00.0 is always present.
//
// Both mechanisms live on the main thread; the vCPU threads reach them through the main-thread hub, which asks a
// device for its vcpuShare(): the vCPU-side wrapper that answers accesses to absent functions (and, for the port
// mechanism, CONFIG_ADDRESS) in the vCPU thread from shared memory (config_io_presence.ts, ecam_presence.ts).
import type { BusDevice } from "../bus.ts";
import type { DeviceShare } from "../shared_device.ts";
import {
  CONFIG_DATA_OFFSET,
  CONFIG_IO_PRESENCE_KIND,
  ConfigAddressLatch,
  ConfigIoAccess,
  type ConfigIoPresenceState,
  classifyConfigIo,
} from "./config_io_presence.ts";
import {
  configAddressBus,
  configAddressDevice,
  configAddressFunction,
  configAddressRegister,
  dwordOf,
  ecamBus,
  ecamDevice,
  ecamFunction,
  ecamRegister,
  extractBytes,
} from "./config_address.ts";
import { PCI_BAR0, PCI_BAR_COUNT, PCI_CONFIG_REGS, PciConfiguration } from "./config_space.ts";
import { ecamPresenceShare } from "./ecam_presence.ts";
import type { PciDevice } from "./pci_device.ts";
import { PciPresence } from "./presence.ts";

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
  /** Every function added, for the vCPU threads' absent-function answers. */
  readonly presence = new PciPresence();
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
    this.presence.add(at);
  }

  /** Takes the function at `at` off the bus (a hot-unplugged device); returns it. The host bridge stays. */
  remove(at: PciAddress): PciDevice | undefined {
    const k = key(at.bus, at.device, at.function);
    const d = this.#devices.get(k);
    if (!d || k === 0) return undefined;
    this.#devices.delete(k);
    this.presence.remove(at);
    return d;
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

/** CONFIG_ADDRESS (0xCF8) selects the function and register that the data port (0xCFC..0xCFF) reaches. */
export class PciConfigIo implements BusDevice {
  readonly debugLabel = "pci config io";
  /** Shared with the vCPU threads, which set it without calling the main thread (config_io_presence.ts). */
  readonly latch = new ConfigAddressLatch();

  constructor(
    readonly root: PciRoot,
    readonly onResetControl?: (data: Uint8Array) => void,
  ) {}

  read(offset: number, data: Uint8Array): void {
    const a = this.latch.value;
    switch (classifyConfigIo(offset, data.length, false, a)) {
      case ConfigIoAccess.Address:
        // Only the whole dword is CONFIG_ADDRESS; Linux's type-1 probe writes and reads it back as a dword.
        extractBytes(a, offset, data);
        return;
      case ConfigIoAccess.Function: {
        const dword = this.root.configRead(
          configAddressBus(a),
          configAddressDevice(a),
          configAddressFunction(a),
          configAddressRegister(a),
        );
        extractBytes(dword, offset - CONFIG_DATA_OFFSET, data);
        return;
      }
      default:
        data.fill(0xff);
    }
  }

  write(offset: number, data: Uint8Array): void {
    const a = this.latch.value;
    switch (classifyConfigIo(offset, data.length, true, a)) {
      case ConfigIoAccess.Address:
        this.latch.set(dwordOf(data));
        return;
      case ConfigIoAccess.ResetControl:
        this.onResetControl?.(data);
        return;
      case ConfigIoAccess.Function:
        this.root.configWrite(
          configAddressBus(a),
          configAddressDevice(a),
          configAddressFunction(a),
          configAddressRegister(a),
          offset - CONFIG_DATA_OFFSET,
          data,
        );
        return;
      default:
    }
  }

  /** The vCPU-side device: CONFIG_ADDRESS and absent functions there, the rest forwarded to `forward` (this). */
  vcpuShare(forward: DeviceShare): DeviceShare {
    const state: ConfigIoPresenceState = {
      latch: this.latch.buffer,
      presence: this.root.presence.buffer,
      inner: forward,
    };
    return { kind: CONFIG_IO_PRESENCE_KIND, state };
  }
}

export class PciEcam implements BusDevice {
  readonly debugLabel = "pcie ecam";
  constructor(readonly root: PciRoot) {}

  static decode(offset: number): { bus: number; dev: number; fn: number; reg: number; byte: number } {
    return {
      bus: ecamBus(offset),
      dev: ecamDevice(offset),
      fn: ecamFunction(offset),
      reg: ecamRegister(offset),
      byte: offset & 3,
    };
  }

  read(offset: number, data: Uint8Array): void {
    const a = PciEcam.decode(offset);
    if (a.byte + data.length > 4) {
      data.fill(0xff);
      return;
    }
    extractBytes(this.root.configRead(a.bus, a.dev, a.fn, a.reg), a.byte, data);
  }

  write(offset: number, data: Uint8Array): void {
    const a = PciEcam.decode(offset);
    if (a.byte + data.length > 4) return;
    this.root.configWrite(a.bus, a.dev, a.fn, a.reg, a.byte, data);
  }

  /** The vCPU-side device: absent functions read all-ones there, the rest is forwarded to `forward` (this). */
  vcpuShare(forward: DeviceShare): DeviceShare {
    return ecamPresenceShare(this.root.presence, forward);
  }
}
