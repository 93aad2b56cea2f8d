// Which PCI functions exist, one bit per bus/device/function in a SharedArrayBuffer, so that a vCPU thread can
// answer configuration reads of absent functions (all-ones, PCI 3.0 section 6.1) without asking the PCI root on
// the main thread. The PCI root sets a bit for every function it adds (PciRoot.add).
import type { PciAddress } from "./pci_root.ts";

/** One bit per (bus, device, function): 256 * 32 * 8 bits. */
const PRESENCE_BYTES = (256 * 32 * 8) / 8;

export class PciPresence {
  readonly #bits: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(PRESENCE_BYTES)) {
    this.#bits = new Uint8Array(buffer);
  }

  static index(bus: number, dev: number, fn: number): number {
    return (bus << 8) | (dev << 3) | fn;
  }

  add(at: PciAddress): void {
    const i = PciPresence.index(at.bus, at.device, at.function);
    Atomics.or(this.#bits, i >> 3, 1 << (i & 7));
  }

  remove(at: PciAddress): void {
    const i = PciPresence.index(at.bus, at.device, at.function);
    Atomics.and(this.#bits, i >> 3, ~(1 << (i & 7)) & 0xff);
  }

  has(bus: number, dev: number, fn: number): boolean {
    const i = PciPresence.index(bus, dev, fn);
    return (this.#bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }
}
