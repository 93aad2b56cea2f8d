// The I/O-port and MMIO buses (spec: "Device Model"). A Bus is an ordered list of non-overlapping ranges, each
// owned by one BusDevice; a vCPU exit at an address is forwarded to the device whose range holds the exit's base
// address, with the offset relative to the range start. Each vCPU Worker builds its own Bus over the same shared
// device state (see shared_device.ts), as crosvm gives every vCPU a copy of the Bus.
import type { SharedMutex } from "../base/shared_mutex.ts";

export interface BusDevice {
  /** Short name for logs and errors, e.g. "serial COM1". */
  readonly debugLabel: string;
  /** Fills `data` (1..8 bytes) with the value read at `offset` from the start of the device's range. */
  read(offset: number, data: Uint8Array): void;
  /** Handles a write of `data` (1..8 bytes) at `offset` from the start of the device's range. */
  write(offset: number, data: Uint8Array): void;
  /** Held around every read/write when the device's state is shared between threads. */
  readonly mutex?: SharedMutex;
}

export interface BusRange {
  readonly base: number;
  readonly len: number;
}

interface Entry extends BusRange {
  readonly device: BusDevice;
}

export class BusError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BusError";
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
const fmt = (r: BusRange) => `[${hex(r.base)}, ${hex(r.base + r.len)})`;

export class Bus {
  readonly #entries: Entry[] = [];
  #last: Entry | undefined;

  constructor(readonly name: string) {}

  /** Adds `device` at [base, base+len); refuses a zero length or an overlap, naming both ranges. */
  insert(device: BusDevice, base: number, len: number): void {
    if (len <= 0)
      throw new BusError(`${this.name} bus: ${device.debugLabel} has an empty range at ${hex(base)}`);
    const range = { base, len };
    for (const e of this.#entries) {
      if (base < e.base + e.len && e.base < base + len) {
        throw new BusError(
          `${this.name} bus: ${device.debugLabel} at ${fmt(range)} overlaps ${e.device.debugLabel} at ${fmt(e)}`,
        );
      }
    }
    this.#entries.push({ base, len, device });
    this.#entries.sort((a, b) => a.base - b.base);
  }

  /** Removes the device inserted at exactly `base`; returns whether one was there. */
  remove(base: number): boolean {
    const i = this.#entries.findIndex((e) => e.base === base);
    if (i < 0) return false;
    this.#entries.splice(i, 1);
    this.#last = undefined;
    return true;
  }

  get ranges(): readonly (BusRange & { readonly device: BusDevice })[] {
    return this.#entries;
  }

  /** The device whose range holds `addr` and the offset into it. */
  lookup(addr: number): { device: BusDevice; offset: number } | undefined {
    const e = this.#find(addr);
    return e && { device: e.device, offset: addr - e.base };
  }

  #find(addr: number): Entry | undefined {
    const last = this.#last;
    if (last && addr >= last.base && addr < last.base + last.len) return last;
    // Binary search for the last range starting at or below addr.
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length - 1;
    let found: Entry | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = entries[mid]!;
      if (e.base <= addr) {
        found = e;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found && addr - found.base < found.len) {
      this.#last = found;
      return found;
    }
    return undefined;
  }

  /** Forwards a read; returns false (and leaves `data` zero-filled) when no device holds `addr`. */
  read(addr: number, data: Uint8Array): boolean {
    const e = this.#find(addr);
    if (!e) {
      data.fill(0);
      return false;
    }
    const m = e.device.mutex;
    if (m) {
      m.lock();
      try {
        e.device.read(addr - e.base, data);
      } finally {
        m.unlock();
      }
    } else e.device.read(addr - e.base, data);
    return true;
  }

  /** Forwards a write; returns false when no device holds `addr`. */
  write(addr: number, data: Uint8Array): boolean {
    const e = this.#find(addr);
    if (!e) return false;
    const m = e.device.mutex;
    if (m) {
      m.lock();
      try {
        e.device.write(addr - e.base, data);
      } finally {
        m.unlock();
      }
    } else e.device.write(addr - e.base, data);
    return true;
  }
}
