// A PCIe root port with a hot-plug slot (crosvm devices/src/pci/pcie/pcie_root_port.rs and pcie_port.rs; Linux's
// pciehp drives it). It is a type 1 (PCI-to-PCI bridge) function on bus 0 whose secondary bus holds at most one
// function, device 0, the hot-plugged one. The VMM programs it as firmware would and the guest does not renumber
// it: the bus numbers are fixed (read-only) and the non-prefetchable memory window is the port's own range of the
// low MMIO area, which `window()` puts on the MMIO bus whether a device is plugged or not, forwarding accesses to
// the plugged device's BARs wherever the guest placed them inside the window. There is no I/O and no prefetchable
// window (those registers read as zero and ignore writes, which is how Linux learns a bridge lacks them).
//
// Capabilities: PCI Express (PCIe 4.0 section 7.5.3, version 2, Root Port, Slot Implemented) with a slot that is
// hot-plug capable, has a power controller and no command-completed support, a link that reports Data Link Layer
// Link Active; and MSI (one vector) for the hot-plug interrupt, PCIe 4.0 section 6.7.3.4.
//
// Plug: the slot's Presence Detect State and the link's DLL Link Active go to 1 and Presence Detect Changed and
// Data Link Layer State Changed are raised; pciehp powers the slot on (Power Controller Control = 0), waits for the
// link and scans the secondary bus. Unplug: both states go to 0 with the same events; pciehp unbinds the driver,
// removes the function and powers the slot off, which `onPowerOff` reports so the VMM can detach the device.
import type { BusDevice } from "../bus.ts";
import { PciConfiguration } from "./config_space.ts";
import { MSI_CAP_LENGTH, MsiConfig } from "./msi.ts";
import type { PciDevice } from "./pci_device.ts";

/** crosvm's root port IDs (pcie_root_port.rs PCIE_RP_DID, Intel's vendor ID). */
export const PCIE_ROOT_PORT_VENDOR = 0x8086;
export const PCIE_ROOT_PORT_DEVICE = 0x3420;
/** Class 06 (bridge), subclass 04 (PCI-to-PCI), prog-if 0. */
export const PCI_CLASS_BRIDGE = 0x06;
export const PCI_SUBCLASS_BRIDGE_PCI = 0x04;
/** Header type 1: PCI-to-PCI bridge. */
export const PCI_HEADER_TYPE_BRIDGE = 1;

/**
 * At most this many root ports (--pci-hotplug-slots): each takes a device number on bus 0, a secondary bus (1..N,
 * inside the 64 buses the MCFG announces) and a window of the low MMIO area.
 */
export const MAX_PCI_HOTPLUG_SLOTS = 16;
/** Each port's memory window: room for a virtio-pci function's BAR (32 KiB) at the bridge granularity. */
export const ROOT_PORT_WINDOW_SIZE = 1 << 20;

/** Type 1 header dwords (PCI-to-PCI Bridge spec 1.2 section 3.2, figure 3-2). */
export const PCI_PRIMARY_BUS = 0x18; // primary, secondary, subordinate bus, secondary latency timer
export const PCI_IO_BASE = 0x1c; // I/O base, I/O limit, secondary status
export const PCI_MEMORY_BASE = 0x20; // memory base, memory limit (bits 15:4 = address bits 31:20)
export const PCI_PREF_MEMORY_BASE = 0x24;
export const PCI_BRIDGE_CONTROL = 0x3e;
/** Bridge memory windows are 1 MiB granular (section 3.2.5.8). */
export const BRIDGE_WINDOW_ALIGN = 1 << 20;

/** PCI Express capability (PCIe 4.0 section 7.5.3): ID, register offsets inside it and its length (v2). */
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_EXP_FLAGS = 0x02;
export const PCI_EXP_DEVCAP = 0x04;
export const PCI_EXP_DEVCTL = 0x08;
export const PCI_EXP_LNKCAP = 0x0c;
export const PCI_EXP_LNKCTL = 0x10;
export const PCI_EXP_LNKSTA = 0x12;
export const PCI_EXP_SLTCAP = 0x14;
export const PCI_EXP_SLTCTL = 0x18;
export const PCI_EXP_SLTSTA = 0x1a;
export const PCI_EXP_RTCTL = 0x1c;
export const PCI_EXP_DEVCTL2 = 0x28;
export const PCI_EXP_LNKCTL2 = 0x30;
export const PCI_EXP_CAP_LENGTH = 0x3c;
/** PCI Express Capabilities register (7.5.3.2): version 2, Device/Port Type 4 = Root Port, Slot Implemented. */
export const PCI_EXP_FLAGS_VERSION_2 = 0x0002;
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
export const PCI_EXP_FLAGS_SLOT = 0x0100;
/** Link Capabilities (7.5.3.6): max speed 1 = 2.5 GT/s, max width (9:4) x1, DLL Link Active Reporting Capable. */
export const PCI_EXP_LNKCAP_SPEED_2_5GT = 0x1;
export const PCI_EXP_LNKCAP_WIDTH_X1 = 0x10;
export const PCI_EXP_LNKCAP_DLLLARC = 0x0010_0000;
/** Link Status (7.5.3.8): current speed, negotiated width x1, Data Link Layer Link Active. */
export const PCI_EXP_LNKSTA_DLLLA = 0x2000;
/** Slot Capabilities (7.5.3.9). */
export const PCI_EXP_SLTCAP_ABP = 0x0000_0001; // attention button present
export const PCI_EXP_SLTCAP_PCP = 0x0000_0002; // power controller present
export const PCI_EXP_SLTCAP_HPC = 0x0000_0040; // hot-plug capable
export const PCI_EXP_SLTCAP_NCCS = 0x0004_0000; // no command completed support
export const PCI_EXP_SLTCAP_PSN_SHIFT = 19; // physical slot number, bits 31:19
/** Slot Control (7.5.3.10). */
export const PCI_EXP_SLTCTL_ABPE = 0x0001;
export const PCI_EXP_SLTCTL_PFDE = 0x0002;
export const PCI_EXP_SLTCTL_MRLSCE = 0x0004;
export const PCI_EXP_SLTCTL_PDCE = 0x0008;
export const PCI_EXP_SLTCTL_CCIE = 0x0010;
export const PCI_EXP_SLTCTL_HPIE = 0x0020;
export const PCI_EXP_SLTCTL_PCC = 0x0400; // power controller control: 1 = off
export const PCI_EXP_SLTCTL_DLLSCE = 0x1000;
export const PCI_EXP_SLTCTL_WRITABLE = 0x1fff;
/** Slot Status (7.5.3.11): RW1C event bits and read-only states. */
export const PCI_EXP_SLTSTA_ABP = 0x0001;
export const PCI_EXP_SLTSTA_PFD = 0x0002;
export const PCI_EXP_SLTSTA_MRLSC = 0x0004;
export const PCI_EXP_SLTSTA_PDC = 0x0008;
export const PCI_EXP_SLTSTA_CC = 0x0010;
export const PCI_EXP_SLTSTA_PDS = 0x0040;
export const PCI_EXP_SLTSTA_DLLSC = 0x0100;
export const PCI_EXP_SLTSTA_EVENTS = 0x011f;

/** Each event bit with the Slot Control bit that enables its interrupt (7.5.3.10). */
const EVENT_ENABLES: readonly [number, number][] = [
  [PCI_EXP_SLTSTA_ABP, PCI_EXP_SLTCTL_ABPE],
  [PCI_EXP_SLTSTA_PFD, PCI_EXP_SLTCTL_PFDE],
  [PCI_EXP_SLTSTA_MRLSC, PCI_EXP_SLTCTL_MRLSCE],
  [PCI_EXP_SLTSTA_PDC, PCI_EXP_SLTCTL_PDCE],
  [PCI_EXP_SLTSTA_CC, PCI_EXP_SLTCTL_CCIE],
  [PCI_EXP_SLTSTA_DLLSC, PCI_EXP_SLTCTL_DLLSCE],
];

export interface PcieRootPortOptions {
  /** The slot's Physical Slot Number and the link's port number, 1..255; unique per port (pciehp names by it). */
  readonly slotNumber: number;
  /** Bus number of the port's secondary (and subordinate) bus, 1..255. */
  readonly secondaryBus: number;
  /** The non-prefetchable memory window, 1 MiB aligned, below 4 GiB. */
  readonly windowBase: number;
  readonly windowSize: number;
}

export class PcieRootPortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PcieRootPortError";
  }
}

export class PcieRootPort implements PciDevice {
  readonly debugLabel: string;
  readonly config: PciConfiguration;
  readonly msi = new MsiConfig();
  readonly secondaryBus: number;
  readonly windowBase: number;
  readonly windowSize: number;
  /** Offsets of the PCI Express and MSI capabilities in configuration space. */
  readonly pcieCap: number;
  readonly msiCap: number;
  /** Called when the guest turns the slot's power off (Power Controller Control 0 -> 1). */
  onPowerOff: () => void = () => {};
  #slotControl = PCI_EXP_SLTCTL_PCC; // an empty slot starts powered off
  #slotStatus = 0;
  #downstream: PciDevice | undefined;

  constructor(o: PcieRootPortOptions) {
    if (!Number.isInteger(o.slotNumber) || o.slotNumber < 1 || o.slotNumber > 255)
      throw new PcieRootPortError(`slot number ${o.slotNumber} is not between 1 and 255`);
    if (!Number.isInteger(o.secondaryBus) || o.secondaryBus < 1 || o.secondaryBus > 255)
      throw new PcieRootPortError(`secondary bus ${o.secondaryBus} is not between 1 and 255`);
    if (
      o.windowSize < BRIDGE_WINDOW_ALIGN ||
      o.windowSize % BRIDGE_WINDOW_ALIGN !== 0 ||
      o.windowBase % BRIDGE_WINDOW_ALIGN !== 0 ||
      o.windowBase + o.windowSize > 2 ** 32
    )
      throw new PcieRootPortError(
        `memory window 0x${o.windowBase.toString(16)}+0x${o.windowSize.toString(16)} is not 1 MiB granular below 4 GiB`,
      );
    this.debugLabel = `pcie root port ${o.slotNumber}`;
    this.secondaryBus = o.secondaryBus;
    this.windowBase = o.windowBase;
    this.windowSize = o.windowSize;
    const config = new PciConfiguration({
      vendorId: PCIE_ROOT_PORT_VENDOR,
      deviceId: PCIE_ROOT_PORT_DEVICE,
      classCode: PCI_CLASS_BRIDGE,
      subclass: PCI_SUBCLASS_BRIDGE_PCI,
      headerType: PCI_HEADER_TYPE_BRIDGE,
    });
    const bus = o.secondaryBus;
    config.defineRegister(PCI_PRIMARY_BUS / 4, (bus << 8) | (bus << 16), 0);
    config.defineRegister(PCI_IO_BASE / 4, 0, 0);
    const memBase = (o.windowBase >>> 16) & 0xfff0;
    const memLimit = ((o.windowBase + o.windowSize - 1) >>> 16) & 0xfff0;
    config.defineRegister(PCI_MEMORY_BASE / 4, memBase | (memLimit << 16), 0xfff0fff0);
    config.defineRegister(PCI_PREF_MEMORY_BASE / 4, 0, 0);
    // Interrupt Line is the OS's scratch byte; Bridge Control's defined bits (0-11) are kept as written.
    config.defineRegister(PCI_BRIDGE_CONTROL / 4, 0, 0x0fff_00ff);
    this.pcieCap = config.addCapability(...pcieCapability(o.slotNumber));
    this.msiCap = config.addCapability(this.msi.capability());
    this.config = config;
  }

  /** Whether a device is plugged (Presence Detect State). */
  get occupied(): boolean {
    return (this.#slotStatus & PCI_EXP_SLTSTA_PDS) !== 0;
  }

  /** The device behind the port, from plug until detach (also while an unplug waits for the guest). */
  get downstream(): PciDevice | undefined {
    return this.#downstream;
  }

  get slotControl(): number {
    return this.#slotControl;
  }

  get slotStatus(): number {
    return this.#slotStatus;
  }

  /** Puts `device` in the slot (it appears as device 0 of the secondary bus) and tells the guest. */
  plug(device: PciDevice): void {
    if (this.#downstream) throw new PcieRootPortError(`${this.debugLabel}: the slot is not empty`);
    this.#downstream = device;
    this.#slotStatus |= PCI_EXP_SLTSTA_PDS;
    this.#raise(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
  }

  /** Tells the guest the device is leaving (presence and link down); it stays reachable until `detach`. */
  unplug(): void {
    if (!this.#downstream) throw new PcieRootPortError(`${this.debugLabel}: the slot is empty`);
    this.#slotStatus &= ~PCI_EXP_SLTSTA_PDS;
    this.#raise(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
  }

  /** Forgets the device behind the port (after `unplug`); returns it. */
  detach(): PciDevice | undefined {
    const d = this.#downstream;
    this.#downstream = undefined;
    return d;
  }

  readConfigRegister(reg: number): number {
    const off = reg * 4;
    const raw = this.config.readReg(reg);
    if (off === this.pcieCap + PCI_EXP_LNKCTL) return ((raw & 0xffff) | (this.#linkStatus() << 16)) >>> 0;
    if (off === this.pcieCap + PCI_EXP_SLTCTL) return (this.#slotControl | (this.#slotStatus << 16)) >>> 0;
    if (off >= this.msiCap && off < this.msiCap + MSI_CAP_LENGTH)
      return this.msi.readDword((off - this.msiCap) / 4, raw & 0xffff);
    return raw;
  }

  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void {
    const off = reg * 4;
    if (off === this.pcieCap + PCI_EXP_SLTCTL) {
      this.#writeSlot(offset, data);
      return;
    }
    if (off >= this.msiCap && off < this.msiCap + MSI_CAP_LENGTH) {
      this.msi.writeDword((off - this.msiCap) / 4, offset, data);
      return;
    }
    this.config.writeReg(reg, offset, data);
  }

  /** A root port has no BARs. */
  readBar(_index: number, _offset: number, data: Uint8Array): void {
    data.fill(0);
  }
  writeBar(): void {}

  /** The memory window as a bus device (offsets from `windowBase`): the plugged device's BARs inside it. */
  window(): BusDevice {
    return {
      debugLabel: `${this.debugLabel} window`,
      read: (offset, data) => {
        const hit = this.#barAt(this.windowBase + offset, data.length);
        if (hit) hit.device.readBar(hit.index, hit.offset, data);
        else data.fill(0);
      },
      write: (offset, data) => {
        const hit = this.#barAt(this.windowBase + offset, data.length);
        if (hit) hit.device.writeBar(hit.index, hit.offset, data);
      },
    };
  }

  #barAt(addr: number, len: number): { device: PciDevice; index: number; offset: number } | undefined {
    const d = this.#downstream;
    if (!d) return undefined;
    for (const bar of d.config.bars) {
      if (bar.kind === "io") continue;
      const start = d.config.barAddress(bar.index);
      if (addr >= start && addr + len <= start + bar.size)
        return { device: d, index: bar.index, offset: addr - start };
    }
    return undefined;
  }

  #linkStatus(): number {
    const up = this.occupied ? PCI_EXP_LNKSTA_DLLLA : 0;
    return PCI_EXP_LNKCAP_SPEED_2_5GT | PCI_EXP_LNKCAP_WIDTH_X1 | up;
  }

  #writeSlot(offset: number, data: Uint8Array): void {
    let value = 0;
    let mask = 0;
    for (let i = 0; i < data.length; i++) {
      value |= data[i]! << (8 * (offset + i));
      mask |= 0xff << (8 * (offset + i));
    }
    if (mask & 0xffff) {
      const before = this.#slotControl;
      const writable = PCI_EXP_SLTCTL_WRITABLE & mask;
      this.#slotControl = (before & ~writable) | (value & writable);
      const poweredOff = (this.#slotControl & ~before & PCI_EXP_SLTCTL_PCC) !== 0;
      // Enabling the interrupt with enabled events already pending sends it (7.5.3.10, HPIE).
      if ((this.#slotControl & ~before & PCI_EXP_SLTCTL_HPIE) !== 0) this.#interruptIfPending();
      if (poweredOff) this.onPowerOff();
    }
    if (mask & 0xffff0000) {
      // Event bits are RW1C; anything still pending and enabled after the write is sent again (MSI is an edge).
      this.#slotStatus &= ~((value >>> 16) & PCI_EXP_SLTSTA_EVENTS);
      this.#interruptIfPending();
    }
  }

  #raise(events: number): void {
    const fresh = events & ~this.#slotStatus;
    this.#slotStatus |= events;
    if (fresh & this.#enabledEvents()) this.#interruptIfPending();
  }

  #enabledEvents(): number {
    if (!(this.#slotControl & PCI_EXP_SLTCTL_HPIE)) return 0;
    let events = 0;
    for (const [event, enable] of EVENT_ENABLES) if (this.#slotControl & enable) events |= event;
    return events;
  }

  #interruptIfPending(): void {
    if (this.#slotStatus & this.#enabledEvents()) this.msi.trigger();
  }
}

/** The PCI Express capability body and its per-byte write masks. */
function pcieCapability(slotNumber: number): [Uint8Array, Uint8Array] {
  const body = new Uint8Array(PCI_EXP_CAP_LENGTH);
  const writable = new Uint8Array(PCI_EXP_CAP_LENGTH);
  const v = new DataView(body.buffer);
  const w = new DataView(writable.buffer);
  body[0] = PCI_CAP_ID_EXP;
  v.setUint16(
    PCI_EXP_FLAGS,
    PCI_EXP_FLAGS_VERSION_2 | (PCI_EXP_TYPE_ROOT_PORT << 4) | PCI_EXP_FLAGS_SLOT,
    true,
  );
  v.setUint32(
    PCI_EXP_LNKCAP,
    (PCI_EXP_LNKCAP_SPEED_2_5GT | PCI_EXP_LNKCAP_WIDTH_X1 | PCI_EXP_LNKCAP_DLLLARC | (slotNumber << 24)) >>>
      0,
    true,
  );
  v.setUint32(
    PCI_EXP_SLTCAP,
    (PCI_EXP_SLTCAP_PCP |
      PCI_EXP_SLTCAP_HPC |
      PCI_EXP_SLTCAP_NCCS |
      (slotNumber << PCI_EXP_SLTCAP_PSN_SHIFT)) >>>
      0,
    true,
  );
  // Control registers the OS may set and read back; they change nothing here.
  w.setUint16(PCI_EXP_DEVCTL, 0xffff, true);
  w.setUint16(PCI_EXP_LNKCTL, 0x0fff, true);
  w.setUint16(PCI_EXP_RTCTL, 0x001f, true);
  w.setUint16(PCI_EXP_DEVCTL2, 0xffff, true);
  w.setUint16(PCI_EXP_LNKCTL2, 0xffff, true);
  return [body, writable];
}
