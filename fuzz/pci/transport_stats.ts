// Counts that show a run reached the paths it should, from what each access did: BARs (and 64-bit BARs' upper
// halves) entering the sized state, FEATURES_OK refused, vectors set or refused, queue sizes and selects the
// transport would not take, feature selectors past the two words, and DEVICE_NEEDS_RESET raised (an activation or
// a queue the transport refused).
import { type BarSpec, PCI_BAR0 } from "../../src/devices/pci/config_space.ts";
import {
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_FEATURES_OK,
} from "../../src/devices/virtio/constants.ts";
import {
  COMMON_CONFIG_MSIX_VECTOR,
  COMMON_CONFIG_SIZE,
  COMMON_DEVICE_FEATURE_SELECT,
  COMMON_DEVICE_STATUS,
  COMMON_DRIVER_FEATURE_SELECT,
  COMMON_QUEUE_MSIX_VECTOR,
  COMMON_QUEUE_SELECT,
  COMMON_QUEUE_SIZE,
} from "../../src/devices/virtio/virtio_pci_common_config.ts";
import type { Observer } from "../observer.ts";
import type { GuestAccess } from "./guest_access.ts";
import type { PciMachine, VirtioFunction } from "./pci_machine.ts";

/** Which dwords of `bar` read back the mask an all-ones write leaves (PCI 3.0 section 6.2.5.1). */
function sizedHalves(readRegister: (reg: number) => number, bar: BarSpec): string[] {
  const reg = PCI_BAR0 / 4 + bar.index;
  const lowMask = bar.size >= 2 ** 32 ? 0 : -bar.size >>> 0;
  const halves: string[] = [];
  if (lowMask !== 0 && (readRegister(reg) & lowMask) >>> 0 === lowMask) halves.push("low");
  if (bar.kind === "mem64") {
    const highMask = bar.size > 2 ** 32 ? -(bar.size / 2 ** 32) >>> 0 : 0xffff_ffff;
    if (readRegister(reg + 1) >>> 0 === highMask) halves.push("high");
  }
  return halves;
}

export class TransportStats {
  /** "function/BAR/half" of every BAR dword now in the sized state. */
  #sized = new Set<string>();
  readonly #needsReset = new Map<VirtioFunction, boolean>();

  constructor(
    readonly machine: PciMachine,
    readonly observer: Observer,
  ) {}

  /** Counts what access `a` did (call after it). */
  after(a: GuestAccess): void {
    for (const f of this.machine.virtio) {
      const raised = (f.pci.common.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;
      if (raised && !this.#needsReset.get(f)) this.observer.tally("needsReset");
      this.#needsReset.set(f, raised);
    }
    if (!a.write) return;
    if (a.kind === "io" || this.machine.isConfigSpace(a.addr)) this.#countSized();
    const register = a.kind === "mmio" ? this.machine.virtioAt(a.addr) : undefined;
    if (register && register.offset < COMMON_CONFIG_SIZE) this.#commonWrite(register.f, register.offset, a);
  }

  #countSized(): void {
    const now = new Set<string>();
    for (const [i, f] of this.machine.functions.entries())
      for (const b of f.device.config.bars)
        for (const half of sizedHalves((reg) => f.device.readConfigRegister(reg), b)) {
          const key = `${i}/${b.index}/${half}`;
          now.add(key);
          if (!this.#sized.has(key)) this.observer.tally(half === "low" ? "barsSized" : "upperHalvesSized");
        }
    this.#sized = now;
  }

  #commonWrite(f: VirtioFunction, offset: number, a: GuestAccess): void {
    const c = f.pci.common;
    const value = Number(a.value & 0xffff_ffffn);
    switch (offset) {
      case COMMON_DEVICE_STATUS:
        if (value & VIRTIO_STATUS_FEATURES_OK && !(c.status & VIRTIO_STATUS_FEATURES_OK))
          this.observer.tally("featuresOkRefused");
        break;
      case COMMON_CONFIG_MSIX_VECTOR:
      case COMMON_QUEUE_MSIX_VECTOR: {
        const now = c.read(offset, 2);
        if (now !== VIRTIO_MSI_NO_VECTOR) this.observer.tally("vectorsSet");
        else if ((value & 0xffff) !== VIRTIO_MSI_NO_VECTOR) this.observer.tally("vectorsRefused");
        break;
      }
      case COMMON_QUEUE_SIZE:
        if (c.read(offset, 2) !== (value & 0xffff)) this.observer.tally("queueSizesRefused");
        break;
      case COMMON_QUEUE_SELECT:
        if (c.queueSelect >= f.pci.queues.length) this.observer.tally("queueSelectsPastEnd");
        break;
      case COMMON_DEVICE_FEATURE_SELECT:
      case COMMON_DRIVER_FEATURE_SELECT:
        if (value > 1) this.observer.tally("featureSelectsPastEnd");
    }
  }
}
