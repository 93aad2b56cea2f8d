// Places BARs in guest physical address space as firmware would: 32-bit memory BARs in the low MMIO hole below
// 4 GiB, 64-bit ones above the end of RAM. Each BAR is naturally aligned to its size (PCI 3.0 section 6.2.5.1).
import type { PciDevice } from "./pci_device.ts";

/** The low MMIO window (issue 4 layout): between the top of low RAM and PCIe ECAM. */
export const LOW_MMIO_START = 0xd000_0000;
export const LOW_MMIO_END = 0xf400_0000;

export class BarAllocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BarAllocationError";
  }
}

class Window {
  #next: number;
  constructor(
    readonly name: string,
    readonly start: number,
    readonly end: number,
  ) {
    this.#next = start;
  }
  allocate(size: number, what: string): number {
    const addr = Math.ceil(this.#next / size) * size;
    if (addr + size > this.end)
      throw new BarAllocationError(
        `${what}: no room for 0x${size.toString(16)} bytes in the ${this.name} window ` +
          `[0x${this.start.toString(16)}, 0x${this.end.toString(16)})`,
      );
    this.#next = addr + size;
    return addr;
  }
}

export interface PlacedBar {
  readonly index: number;
  readonly addr: number;
  readonly size: number;
}

export class BarAllocator {
  readonly #low: Window;
  readonly #high: Window;

  /** `highStart`: first address above RAM (and above 4 GiB) free for 64-bit BARs. */
  constructor(highStart: number, highEnd = 2 ** 46, lowStart = LOW_MMIO_START, lowEnd = LOW_MMIO_END) {
    this.#low = new Window("low MMIO", lowStart, lowEnd);
    this.#high = new Window("high MMIO", Math.max(highStart, 2 ** 32), highEnd);
  }

  /** A range of the low MMIO window aligned to `size` (a bridge's memory window), for `what`. */
  allocateLow(size: number, what: string): number {
    return this.#low.allocate(size, what);
  }

  /** Allocates and programs every memory BAR of `device`; returns where each went. */
  placeDevice(device: PciDevice): PlacedBar[] {
    const placed: PlacedBar[] = [];
    for (const bar of device.config.bars) {
      if (bar.kind === "io") throw new BarAllocationError(`${device.debugLabel}: I/O BARs are not supported`);
      const window = bar.kind === "mem64" ? this.#high : this.#low;
      const addr = window.allocate(bar.size, `${device.debugLabel} BAR ${bar.index}`);
      device.config.setBarAddress(bar.index, addr);
      placed.push({ index: bar.index, addr, size: bar.size });
    }
    return placed;
  }
}
