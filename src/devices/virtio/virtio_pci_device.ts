// A virtio device on PCI, modern interface only (virtio 1.2 section 4.1). One 32-bit memory BAR holds every
// structure; the PCI capability list points the driver at them:
//
//   BAR0 + 0x0000  common configuration (4.1.4.3)
//   BAR0 + 0x1000  ISR status (4.1.4.5)
//   BAR0 + 0x2000  device-specific configuration (4.1.4.6)
//   BAR0 + 0x3000  notifications (4.1.4.4): queue i at 0x3000 + 4*i (notify_off_multiplier 4), so the VMM can give
//                  every queue its own ioeventfd
//   BAR0 + 0x4000  MSI-X table, BAR0 + 0x5000 MSI-X PBA
//
// device_status drives the VirtioDevice lifecycle: 0 resets, FEATURES_OK is refused for features the device did
// not offer or without VIRTIO_F_VERSION_1, DRIVER_OK activates the device with the enabled queues.
import { GuestLog } from "../../base/guest_log.ts";
import { logger } from "../../base/log.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import type { IrqEvent } from "../irq.ts";
import { PCI_CONFIG_REGS, PciConfiguration } from "../pci/config_space.ts";
import { MSIX_CAP_LENGTH, MsixConfig } from "../pci/msix.ts";
import type { PciDevice } from "../pci/pci_device.ts";
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_NET,
  VIRTIO_ID_RNG,
  VIRTIO_ID_SCSI,
  VIRTIO_ID_BALLOON,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
  featureBit,
} from "./constants.ts";
import { type Interrupt, IsrStatus, PciInterrupt } from "./interrupt.ts";
import { Queue } from "./split_queue.ts";
import { COMMON_CONFIG_SIZE, VirtioPciCommonConfig } from "./virtio_pci_common_config.ts";
import type { DeviceLifecycle, VirtioDevice } from "./virtio_device.ts";

/** PCI IDs (4.1.2): vendor 0x1AF4, device 0x1040 + virtio device ID, revision 1 for non-transitional devices. */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
export const VIRTIO_PCI_REVISION = 1;
/** 4.1.2.1: "Non-transitional devices SHOULD have a PCI Subsystem Device ID of 0x40 or higher." */
export const VIRTIO_PCI_SUBSYSTEM_ID = 0x40;

/** PCI capability ID for vendor-specific capabilities, which carry struct virtio_pci_cap (4.1.4). */
export const PCI_CAP_ID_VNDR = 0x09;
/** cfg_type values (4.1.4). */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
/** sizeof(struct virtio_pci_cap) and of struct virtio_pci_notify_cap (4.1.4, 4.1.4.4). */
export const VIRTIO_PCI_CAP_LEN = 16;
export const VIRTIO_PCI_NOTIFY_CAP_LEN = 20;

export const VIRTIO_BAR = 0;
export const COMMON_OFFSET = 0x0000;
export const ISR_OFFSET = 0x1000;
export const ISR_SIZE = 1;
export const DEVICE_CONFIG_OFFSET = 0x2000;
export const DEVICE_CONFIG_SIZE = 0x1000;
export const NOTIFY_OFFSET = 0x3000;
export const NOTIFY_SIZE = 0x1000;
export const NOTIFY_OFF_MULTIPLIER = 4;
export const MSIX_TABLE_OFFSET = 0x4000;
export const MSIX_PBA_OFFSET = 0x5000;
export const VIRTIO_BAR_SIZE = 0x8000;

/** PCI class for each device type (PCI Code and ID Assignment spec); unknown types use 0xff "unassigned". */
const PCI_CLASS: Record<number, [number, number]> = {
  [VIRTIO_ID_NET]: [0x02, 0x00], // network controller, ethernet
  [VIRTIO_ID_BLOCK]: [0x01, 0x80], // mass storage, other
  [VIRTIO_ID_CONSOLE]: [0x07, 0x80], // simple communication, other
  [VIRTIO_ID_RNG]: [0xff, 0x00],
  [VIRTIO_ID_SCSI]: [0x01, 0x00], // mass storage, SCSI
  [VIRTIO_ID_BALLOON]: [0x08, 0x80], // base system peripheral, other (crosvm's virtio_pci_device.rs)
};

function virtioCap(cfgType: number, offset: number, length: number, extra?: number): Uint8Array {
  const len = extra === undefined ? VIRTIO_PCI_CAP_LEN : VIRTIO_PCI_NOTIFY_CAP_LEN;
  const cap = new Uint8Array(len);
  const v = new DataView(cap.buffer);
  cap[0] = PCI_CAP_ID_VNDR;
  cap[2] = len; // cap_len
  cap[3] = cfgType;
  cap[4] = VIRTIO_BAR;
  v.setUint32(8, offset, true);
  v.setUint32(12, length, true);
  if (extra !== undefined) v.setUint32(16, extra, true);
  return cap;
}

export interface VirtioPciOptions {
  /** Legacy INTx line (irqfd on the device's GSI); used while MSI-X is disabled. */
  readonly intx?: IrqEvent;
  /** MSI-X vectors: defaults to one per queue plus one for configuration changes. */
  readonly msixVectors?: number;
}

/** Where a queue's notify register sits, for the VMM's ioeventfd (address = BAR0 address + offset). */
export interface NotifyRegister {
  readonly queue: number;
  readonly barOffset: number;
  /**
   * Width of the driver's notify write: 16 bits, the queue index (4.1.4.4.1, without VIRTIO_F_NOTIFICATION_DATA,
   * which is not offered). A KVM ioeventfd of another length does not match the write (virt/kvm/eventfd.c,
   * ioeventfd_in_range), which then takes the slow path through `writeBar`.
   */
  readonly width: 2;
}

/**
 * VMM wiring (the seams this class leaves open):
 * - BAR0 placement: `attachPciDevice` (pci/attach.ts) allocates it in the low MMIO window and maps
 *   `PciBarBusDevice(this, 0)` on the MMIO bus; `PciRoot.onBarMoved` reports guest reprogramming.
 * - Queue notifications: for each `notifyRegisters()` entry bind an ioeventfd at BAR0 address + barOffset (2-byte
 *   writes, no datamatch needed since every queue has its own address) and call `notifyQueue(queue)` when it fires.
 *   Without an ioeventfd the MMIO write reaches `writeBar` and takes the same path.
 * - MSI-X: set `msix.vectorIrq` to each vector's irqfd and `msix.onVectorChange` to update that vector's KVM GSI
 *   route (address/data) and mask; `msix.trigger` then sends or marks pending.
 * - INTx: pass `intx` (an irqfd on the device's legacy GSI) and program `config.setInterruptLine(gsi)`.
 */
export class VirtioPciDevice implements PciDevice {
  readonly debugLabel: string;
  readonly config: PciConfiguration;
  readonly msix: MsixConfig;
  readonly isr = new IsrStatus();
  readonly common: VirtioPciCommonConfig;
  readonly queues: Queue[];
  readonly interrupt: Interrupt;
  readonly #msixCapReg: number;
  #state: DeviceLifecycle = "new";
  /** Every line here is guest-triggerable: rate-limited per reason and escaped. */
  readonly #log: GuestLog;

  constructor(
    readonly device: VirtioDevice,
    readonly mem: GuestMemory,
    options: VirtioPciOptions = {},
  ) {
    this.debugLabel = `pci ${device.debugLabel}`;
    this.#log = new GuestLog(logger("devices::virtio::pci"), device.debugLabel);
    const [cls, sub] = PCI_CLASS[device.deviceType] ?? [0xff, 0x00];
    this.config = new PciConfiguration({
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_DEVICE_ID_BASE + device.deviceType,
      classCode: cls,
      subclass: sub,
      revision: VIRTIO_PCI_REVISION,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: VIRTIO_PCI_SUBSYSTEM_ID,
      interruptPin: options.intx ? 1 : 0,
    });
    this.config.addBar({ index: VIRTIO_BAR, size: VIRTIO_BAR_SIZE, kind: "mem32" });
    this.queues = device.queueMaxSizes.map((n) => new Queue(n));
    if (this.queues.length * NOTIFY_OFF_MULTIPLIER > NOTIFY_SIZE)
      throw new Error(`${device.debugLabel}: ${this.queues.length} queues do not fit the notify region`);
    this.msix = new MsixConfig(options.msixVectors ?? this.queues.length + 1);
    this.config.addCapability(virtioCap(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFFSET, COMMON_CONFIG_SIZE));
    this.config.addCapability(
      virtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFFSET, NOTIFY_SIZE, NOTIFY_OFF_MULTIPLIER),
    );
    this.config.addCapability(virtioCap(VIRTIO_PCI_CAP_ISR_CFG, ISR_OFFSET, ISR_SIZE));
    this.config.addCapability(virtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_CONFIG_OFFSET, DEVICE_CONFIG_SIZE));
    const msixCap = this.config.addCapability(
      this.msix.capability(VIRTIO_BAR, MSIX_TABLE_OFFSET, VIRTIO_BAR, MSIX_PBA_OFFSET),
    );
    if (msixCap + MSIX_CAP_LENGTH > PCI_CONFIG_REGS * 4) throw new Error("MSI-X capability does not fit");
    this.#msixCapReg = msixCap / 4; // Message Control is bytes 2-3 of the capability's first dword.

    const deviceFeatures = device.features() | featureBit(VIRTIO_F_VERSION_1);
    this.common = new VirtioPciCommonConfig(this.queues, deviceFeatures, this.msix.tableSize, (v) =>
      this.#writeStatus(v),
    );
    const transport = new PciInterrupt({
      isr: this.isr,
      intx: options.intx,
      msix: this.msix,
      configVector: () => this.common.configMsixVector,
      setNeedsReset: (reason) => this.#needsReset(reason),
    });
    // A configuration change also bumps config_generation (4.1.4.3: "changes every time the configuration
    // noticeably changes").
    this.interrupt = {
      signalUsedQueue: (v) => transport.signalUsedQueue(v),
      signalConfigChanged: () => {
        this.common.configGeneration = (this.common.configGeneration + 1) & 0xff;
        transport.signalConfigChanged();
      },
      signalNeedsReset: (reason) => transport.signalNeedsReset(reason),
    };
  }

  get lifecycle(): DeviceLifecycle {
    return this.#state;
  }

  /** Each queue's notify register offset in BAR0; the VMM binds an ioeventfd at BAR0 address + offset. */
  notifyRegisters(): NotifyRegister[] {
    return this.queues.map((_, i) => ({
      queue: i,
      barOffset: NOTIFY_OFFSET + NOTIFY_OFF_MULTIPLIER * i,
      width: 2,
    }));
  }

  #needsReset(reason: string): void {
    this.#log.warn("needs reset", `device needs reset: ${reason}`);
    this.common.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
  }

  #reset(): void {
    if (this.#state === "active" || this.#state === "asleep") {
      try {
        this.device.reset();
      } catch (e) {
        this.#log.warn("reset failed", `reset failed: ${(e as Error).message}`);
      }
      this.#state = "reset";
    }
    this.common.reset();
    this.isr.readAndClear();
  }

  #writeStatus(value: number): void {
    if (value === 0) {
      this.#reset();
      return;
    }
    const old = this.common.status;
    let next = value | (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if (next & VIRTIO_STATUS_FEATURES_OK && !(old & VIRTIO_STATUS_FEATURES_OK)) {
      const driver = this.common.driverFeatures;
      const offered = this.common.deviceFeatures;
      // 2.2.2: the device SHOULD NOT accept FEATURES_OK for features it did not offer; 6.1: a modern device
      // MAY fail to operate unless VIRTIO_F_VERSION_1 is accepted.
      if ((driver & ~offered) !== 0n || (driver & featureBit(VIRTIO_F_VERSION_1)) === 0n) {
        next &= ~VIRTIO_STATUS_FEATURES_OK;
      } else {
        this.device.ackFeatures(driver);
      }
    }
    this.common.status = next;
    if (next & VIRTIO_STATUS_DRIVER_OK && !(old & VIRTIO_STATUS_DRIVER_OK)) this.#activate();
  }

  #activate(): void {
    if (!(this.common.status & VIRTIO_STATUS_FEATURES_OK)) {
      this.#needsReset("DRIVER_OK set without FEATURES_OK");
      return;
    }
    const active = new Map<number, Queue>();
    for (const [i, q] of this.queues.entries()) {
      if (!q.ready) continue;
      const bad = q.activate(this.mem, this.common.driverFeatures);
      if (bad) {
        this.#needsReset(`queue ${i}: ${bad}`);
        return;
      }
      active.set(i, q);
    }
    try {
      this.device.activate(this.mem, this.interrupt, active);
      this.#state = "active";
    } catch (e) {
      this.#needsReset(`activation failed: ${(e as Error).message}`);
    }
  }

  /** A write to queue `index`'s notify register (the path taken when no ioeventfd is bound). */
  notifyQueue(index: number): void {
    if (this.#state !== "active" || !this.queues[index]?.isActive) return;
    try {
      this.device.queueNotify(index);
    } catch (e) {
      this.#log.warn("queue notify", `queue ${index}: ${(e as Error).message}`);
    }
  }

  readConfigRegister(reg: number): number {
    let v = this.config.readReg(reg);
    if (reg === this.#msixCapReg) v = ((v & 0xffff) | (this.msix.messageControl << 16)) >>> 0;
    return v;
  }

  writeConfigRegister(reg: number, offset: number, data: Uint8Array): void {
    if (reg === this.#msixCapReg && offset + data.length > 2) {
      // Only Message Control (bytes 2-3) is writable in the MSI-X capability.
      const cur = this.msix.messageControl;
      const bytes = [cur & 0xff, cur >> 8];
      for (let i = 0; i < data.length; i++) if (offset + i >= 2) bytes[offset + i - 2] = data[i]!;
      this.msix.messageControl = bytes[0]! | (bytes[1]! << 8);
      return;
    }
    this.config.writeReg(reg, offset, data);
  }

  readBar(index: number, offset: number, data: Uint8Array): void {
    data.fill(0);
    if (index !== VIRTIO_BAR) return;
    try {
      this.#readBar0(offset, data);
    } catch (e) {
      this.#log.warn("BAR read", `BAR read at 0x${offset.toString(16)}: ${(e as Error).message}`);
    }
  }

  writeBar(index: number, offset: number, data: Uint8Array): void {
    if (index !== VIRTIO_BAR) return;
    try {
      this.#writeBar0(offset, data);
    } catch (e) {
      this.#log.warn("BAR write", `BAR write at 0x${offset.toString(16)}: ${(e as Error).message}`);
    }
  }

  #readBar0(offset: number, data: Uint8Array): void {
    if (offset < COMMON_OFFSET + COMMON_CONFIG_SIZE) {
      let v = this.common.read(offset - COMMON_OFFSET, data.length);
      for (let i = 0; i < data.length; i++) {
        data[i] = v % 256;
        v = Math.floor(v / 256);
      }
    } else if (offset >= ISR_OFFSET && offset < ISR_OFFSET + ISR_SIZE) {
      data[0] = this.isr.readAndClear();
    } else if (offset >= DEVICE_CONFIG_OFFSET && offset < DEVICE_CONFIG_OFFSET + DEVICE_CONFIG_SIZE) {
      this.device.readConfig(offset - DEVICE_CONFIG_OFFSET, data);
    } else if (offset >= MSIX_TABLE_OFFSET && offset < MSIX_TABLE_OFFSET + this.msix.tableBytes) {
      this.msix.readTable(offset - MSIX_TABLE_OFFSET, data);
    } else if (offset >= MSIX_PBA_OFFSET && offset < MSIX_PBA_OFFSET + this.msix.pbaBytes) {
      this.msix.readPba(offset - MSIX_PBA_OFFSET, data);
    }
  }

  #writeBar0(offset: number, data: Uint8Array): void {
    if (offset < COMMON_OFFSET + COMMON_CONFIG_SIZE) {
      let v = 0;
      for (let i = data.length - 1; i >= 0; i--) v = v * 256 + data[i]!;
      this.common.write(offset - COMMON_OFFSET, data.length, v);
    } else if (offset >= DEVICE_CONFIG_OFFSET && offset < DEVICE_CONFIG_OFFSET + DEVICE_CONFIG_SIZE) {
      this.device.writeConfig(offset - DEVICE_CONFIG_OFFSET, data);
    } else if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + NOTIFY_SIZE) {
      const rel = offset - NOTIFY_OFFSET;
      if (rel % NOTIFY_OFF_MULTIPLIER === 0) this.notifyQueue(rel / NOTIFY_OFF_MULTIPLIER);
    } else if (offset >= MSIX_TABLE_OFFSET && offset < MSIX_TABLE_OFFSET + this.msix.tableBytes) {
      this.msix.writeTable(offset - MSIX_TABLE_OFFSET, data);
    }
  }
}
