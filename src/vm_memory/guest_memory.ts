// Guest physical memory as seen by the VMM: a list of non-overlapping regions, each backed by host bytes.
// The real VM backs every region with one memfd mapped MAP_SHARED (so device processes can map the same pages);
// unit tests back them with plain ArrayBuffers. Every guest-supplied address goes through `slice`, which refuses
// ranges outside RAM or straddling two regions.
import { ptr } from "bun:ffi";

export interface MemoryRegion {
  /** First guest physical address of the region. */
  readonly guestAddr: number;
  readonly size: number;
  /** Host view of the region's bytes (length === size). */
  readonly bytes: Uint8Array;
  /** Offset of this region inside the backing memfd, when there is one. */
  readonly fdOffset: number;
}

export class GuestMemoryError extends Error {
  constructor(
    readonly addr: number,
    readonly length: number,
  ) {
    super(`guest memory range 0x${addr.toString(16)}+0x${length.toString(16)} is outside guest RAM`);
    this.name = "GuestMemoryError";
  }
}

export class GuestMemory {
  readonly #regions: readonly MemoryRegion[];
  readonly #views: DataView[];
  /** Host address of each region's first byte, taken on first use (see hostAddress); -1 until then. */
  readonly #hostBases: number[];
  /** Region of the last successful lookup: a device's accesses cluster in one region. */
  #lastRegion = 0;

  constructor(
    regions: readonly MemoryRegion[],
    /** The memfd behind the regions, or -1 for memory that is not shareable (tests). */
    readonly memfd = -1,
  ) {
    const sorted = [...regions].sort((a, b) => a.guestAddr - b.guestAddr);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.guestAddr + prev.size > sorted[i]!.guestAddr) {
        throw new Error(`guest memory regions overlap at 0x${sorted[i]!.guestAddr.toString(16)}`);
      }
    }
    this.#regions = sorted;
    this.#views = sorted.map((r) => new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
    this.#hostBases = sorted.map(() => -1);
  }

  /** Memory backed by fresh ArrayBuffers, for unit tests and for building images. */
  static anonymous(layout: readonly { guestAddr: number; size: number }[]): GuestMemory {
    return new GuestMemory(
      layout.map((r) => ({
        guestAddr: r.guestAddr,
        size: r.size,
        bytes: new Uint8Array(r.size),
        fdOffset: 0,
      })),
    );
  }

  get regions(): readonly MemoryRegion[] {
    return this.#regions;
  }

  /** Total bytes of RAM. */
  get size(): number {
    return this.#regions.reduce((n, r) => n + r.size, 0);
  }

  /** One past the highest guest physical address backed by RAM. */
  get end(): number {
    const last = this.#regions[this.#regions.length - 1];
    return last ? last.guestAddr + last.size : 0;
  }

  #find(addr: number, length: number): number {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0) return -1;
    const regions = this.#regions;
    const last = regions[this.#lastRegion];
    if (last !== undefined && addr >= last.guestAddr && addr + length <= last.guestAddr + last.size)
      return this.#lastRegion;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (addr >= r.guestAddr && addr + length <= r.guestAddr + r.size) {
        this.#lastRegion = i;
        return i;
      }
    }
    return -1;
  }

  /**
   * The host virtual address of guest [addr, addr+length), or -1 when the range is not inside one region; for
   * building iovecs without a view per buffer. The base address of a region is taken once: its storage never
   * moves (an mmap in a VM; in tests an ArrayBuffer kept alive by this object, and JSC does not move those).
   */
  hostAddress(addr: number, length: number): number {
    const i = this.#find(addr, length);
    if (i < 0) return -1;
    const r = this.#regions[i]!;
    let base = this.#hostBases[i]!;
    if (base < 0) {
      base = Number(ptr(r.bytes));
      this.#hostBases[i] = base;
    }
    return base + (addr - r.guestAddr);
  }

  /**
   * For code that reads several fields of one guest structure: the index of the region holding all of
   * [addr, addr+length), or -1. Read them through regionView(i) at offset addr - regions[i].guestAddr.
   */
  locate(addr: number, length: number): number {
    return this.#find(addr, length);
  }

  /** A little-endian DataView over region `i` (an index from `locate`). */
  regionView(i: number): DataView {
    const v = this.#views[i];
    if (!v) throw new RangeError(`no guest memory region ${i}`);
    return v;
  }

  /** True when [addr, addr+length) lies entirely inside one RAM region. */
  isValidRange(addr: number, length: number): boolean {
    return this.#find(addr, length) >= 0;
  }

  /** A live view (no copy) of guest bytes; throws GuestMemoryError when the range is not inside one region. */
  slice(addr: number, length: number): Uint8Array {
    const i = this.#find(addr, length);
    if (i < 0) throw new GuestMemoryError(addr, length);
    const r = this.#regions[i]!;
    const off = addr - r.guestAddr;
    return r.bytes.subarray(off, off + length);
  }

  /** Like `slice`, but returns undefined instead of throwing. */
  trySlice(addr: number, length: number): Uint8Array | undefined {
    const i = this.#find(addr, length);
    if (i < 0) return undefined;
    const r = this.#regions[i]!;
    const off = addr - r.guestAddr;
    return r.bytes.subarray(off, off + length);
  }

  /** Region index for an access, throwing GuestMemoryError when the range is not inside one region. */
  #at(addr: number, length: number): number {
    const i = this.#find(addr, length);
    if (i < 0) throw new GuestMemoryError(addr, length);
    return i;
  }

  read(addr: number, length: number): Uint8Array {
    return this.slice(addr, length).slice();
  }

  write(addr: number, data: Uint8Array): void {
    this.slice(addr, data.length).set(data);
  }

  readU8(addr: number): number {
    const i = this.#at(addr, 1);
    return this.#views[i]!.getUint8(addr - this.#regions[i]!.guestAddr);
  }
  readU16(addr: number): number {
    const i = this.#at(addr, 2);
    return this.#views[i]!.getUint16(addr - this.#regions[i]!.guestAddr, true);
  }
  readU32(addr: number): number {
    const i = this.#at(addr, 4);
    return this.#views[i]!.getUint32(addr - this.#regions[i]!.guestAddr, true);
  }
  readU64(addr: number): bigint {
    const i = this.#at(addr, 8);
    return this.#views[i]!.getBigUint64(addr - this.#regions[i]!.guestAddr, true);
  }
  /**
   * A little-endian u64 as a number, without BigInt; -1 for a value above 2^53 - 1 (no guest address or size
   * that large can be in range). Throws GuestMemoryError like readU64.
   */
  readU64Safe(addr: number): number {
    const i = this.#at(addr, 8);
    const v = this.#views[i]!;
    const o = addr - this.#regions[i]!.guestAddr;
    const hi = v.getUint32(o + 4, true);
    if (hi > 0x1f_ffff) return -1;
    return hi * 2 ** 32 + v.getUint32(o, true);
  }
  writeU8(addr: number, value: number): void {
    const i = this.#at(addr, 1);
    this.#views[i]!.setUint8(addr - this.#regions[i]!.guestAddr, value);
  }
  writeU16(addr: number, value: number): void {
    const i = this.#at(addr, 2);
    this.#views[i]!.setUint16(addr - this.#regions[i]!.guestAddr, value, true);
  }
  writeU32(addr: number, value: number): void {
    const i = this.#at(addr, 4);
    this.#views[i]!.setUint32(addr - this.#regions[i]!.guestAddr, value, true);
  }
  writeU64(addr: number, value: bigint): void {
    const i = this.#at(addr, 8);
    this.#views[i]!.setBigUint64(addr - this.#regions[i]!.guestAddr, value, true);
  }
}
