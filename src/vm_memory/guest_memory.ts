// Guest physical memory as seen by the VMM: a list of non-overlapping regions, each backed by contiguous host
// bytes. The real VM backs every region with one memfd mapped MAP_SHARED (so device processes can map the same
// pages; mapped_region.ts); unit tests back them with plain ArrayBuffers. Every guest-supplied address goes
// through `slice`, `hostAddress` or an accessor, which refuse ranges outside RAM or straddling two regions.
//
// Views: JavaScriptCore cannot view more than 4 GiB as one ArrayBuffer (MAX_VIEW_BYTES), and a region can be
// larger, so each region is seen through views of `viewSize` bytes that start every viewSize / 2 bytes and
// overlap by half. Any range of at most viewSize / 2 bytes then lies inside one view: the integer accessors and
// almost every slice take one view lookup and no boundary logic. A longer range gets a view made for it (at most
// MAX_VIEW_BYTES). The default viewSize of 2 GiB also keeps every offset inside a view an int32, which keeps
// JavaScriptCore's DataView reads on their fast path. Views are made on first use (a 1 TiB guest has 1024).
import { ptr } from "bun:ffi";
import { MAX_NATIVE_VIEW } from "../../ffi/libc.ts";

/** The most bytes JavaScriptCore can view as one ArrayBuffer. */
export const MAX_VIEW_BYTES = MAX_NATIVE_VIEW;
/** Default length of one view: 2 GiB, so that offsets inside a view are int32 (see the header comment). */
export const DEFAULT_VIEW_SIZE = 2 ** 31;
/** The smallest viewSize accepted: every integer accessor (at most 8 bytes) must fit in half a view. */
const MIN_VIEW_SIZE = 16;

export interface MemoryRegion {
  /** First guest physical address of the region. */
  readonly guestAddr: number;
  readonly size: number;
  /** Offset of this region inside the backing memfd, when there is one. */
  readonly fdOffset: number;
  /** Host address of the region's first byte; the region's host bytes are contiguous and never move. */
  readonly hostAddr: number;
  /** A live view (no copy) of the region's bytes [offset, offset + length); length at most MAX_VIEW_BYTES. */
  view(offset: number, length: number): Uint8Array;
}

/** A region backed by an ArrayBuffer's bytes (tests, images built in memory). */
export class BufferRegion implements MemoryRegion {
  readonly fdOffset = 0;
  #hostAddr = -1;

  constructor(
    readonly guestAddr: number,
    readonly bytes: Uint8Array,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  /** Taken on first use: JavaScriptCore does not move an ArrayBuffer's storage once it has been pointed at. */
  get hostAddr(): number {
    if (this.#hostAddr < 0) this.#hostAddr = Number(ptr(this.bytes));
    return this.#hostAddr;
  }

  view(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
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

/** #find's answer for a range inside one region but longer than half a view. */
const LONG = -2;

export class GuestMemory {
  readonly #regions: readonly MemoryRegion[];
  /** Views start every #stride bytes of a region; view k of region r is #firstView[r] + k. */
  readonly #stride: number;
  readonly #firstView: number[] = [];
  readonly #lastViewOf: number[] = [];
  readonly #viewRegion: number[] = [];
  readonly #viewStart: number[] = [];
  readonly #viewEnd: number[] = [];
  readonly #bytes: (Uint8Array | undefined)[] = [];
  readonly #dataViews: (DataView | undefined)[] = [];
  /** View and region of the last successful lookups: a device's accesses cluster. */
  #lastView = 0;
  #lastRegion = 0;

  constructor(
    regions: readonly MemoryRegion[],
    /** The memfd behind the regions, or -1 for memory that is not shareable (tests). */
    readonly memfd = -1,
    /** Bytes per view (see the header comment); tests make it small to cross view boundaries in little RAM. */
    viewSize = DEFAULT_VIEW_SIZE,
  ) {
    if (
      !Number.isSafeInteger(viewSize) ||
      viewSize < MIN_VIEW_SIZE ||
      viewSize > MAX_VIEW_BYTES ||
      viewSize % 2
    )
      throw new RangeError(
        `guest memory view size ${viewSize} is not an even number in ${MIN_VIEW_SIZE}..2^32`,
      );
    const sorted = [...regions].sort((a, b) => a.guestAddr - b.guestAddr);
    const empty = sorted.find((r) => !(r.size > 0));
    if (empty) throw new Error(`guest memory region at 0x${empty.guestAddr.toString(16)} is empty`);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      if (prev.guestAddr + prev.size > sorted[i]!.guestAddr) {
        throw new Error(`guest memory regions overlap at 0x${sorted[i]!.guestAddr.toString(16)}`);
      }
    }
    this.#regions = sorted;
    this.#stride = viewSize / 2;
    sorted.forEach((r, i) => {
      this.#firstView.push(this.#viewStart.length);
      for (let off = 0; off < r.size; off += this.#stride) {
        this.#viewRegion.push(i);
        this.#viewStart.push(r.guestAddr + off);
        this.#viewEnd.push(r.guestAddr + Math.min(off + viewSize, r.size));
        this.#bytes.push(undefined);
        this.#dataViews.push(undefined);
      }
      this.#lastViewOf.push(this.#viewStart.length - 1);
    });
  }

  /** Memory backed by fresh ArrayBuffers, for unit tests and for building images. */
  static anonymous(layout: readonly { guestAddr: number; size: number }[], viewSize?: number): GuestMemory {
    return new GuestMemory(
      layout.map((r) => new BufferRegion(r.guestAddr, new Uint8Array(r.size))),
      -1,
      viewSize,
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

  /** The region holding all of [addr, addr+length), or -1. */
  #regionOf(addr: number, length: number): number {
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

  /** The view holding all of [addr, addr+length); -1 outside RAM, LONG for a range no view holds. */
  #find(addr: number, length: number): number {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0) return -1;
    const v = this.#lastView;
    if (addr >= this.#viewStart[v]! && addr + length <= this.#viewEnd[v]!) return v;
    const r = this.#regionOf(addr, length);
    if (r < 0) return -1;
    // The view starting at or below addr; an empty range at the region's end belongs to its last view.
    const k = Math.floor((addr - this.#regions[r]!.guestAddr) / this.#stride);
    const w = Math.min(this.#firstView[r]! + k, this.#lastViewOf[r]!);
    if (addr + length > this.#viewEnd[w]!) return LONG;
    this.#lastView = w;
    return w;
  }

  #viewBytes(v: number): Uint8Array {
    let b = this.#bytes[v];
    if (b === undefined) {
      const r = this.#regions[this.#viewRegion[v]!]!;
      const start = this.#viewStart[v]!;
      b = r.view(start - r.guestAddr, this.#viewEnd[v]! - start);
      this.#bytes[v] = b;
    }
    return b;
  }

  #dataView(v: number): DataView {
    let d = this.#dataViews[v];
    if (d === undefined) {
      const b = this.#viewBytes(v);
      d = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.#dataViews[v] = d;
    }
    return d;
  }

  /**
   * The host virtual address of guest [addr, addr+length), or -1 when the range is not inside one region; for
   * building iovecs without a view per buffer (a region's host bytes are contiguous, so views do not matter).
   */
  hostAddress(addr: number, length: number): number {
    const i = this.#regionOf(addr, length);
    if (i < 0) return -1;
    const r = this.#regions[i]!;
    return r.hostAddr + (addr - r.guestAddr);
  }

  /**
   * For code that reads several fields of one guest structure: the index of a view holding all of
   * [addr, addr+length), or -1 (outside RAM, or longer than half a view). Read the fields through viewAt(i) at
   * offset addr - viewAddr(i).
   */
  locate(addr: number, length: number): number {
    const v = this.#find(addr, length);
    return v >= 0 ? v : -1;
  }

  /** A little-endian DataView over view `i` (an index from `locate`). */
  viewAt(i: number): DataView {
    if (!Number.isInteger(i) || i < 0 || i >= this.#viewStart.length)
      throw new RangeError(`no guest memory view ${i}`);
    return this.#dataView(i);
  }

  /** Guest physical address of the first byte of view `i` (an index from `locate`). */
  viewAddr(i: number): number {
    const a = this.#viewStart[i];
    if (a === undefined) throw new RangeError(`no guest memory view ${i}`);
    return a;
  }

  /** True when [addr, addr+length) lies entirely inside one RAM region. */
  isValidRange(addr: number, length: number): boolean {
    return this.#regionOf(addr, length) >= 0;
  }

  /**
   * A live view (no copy) of guest bytes; throws GuestMemoryError when the range is not inside one region, and
   * RangeError for a range over MAX_VIEW_BYTES (no guest-supplied length is: descriptor lengths are 32-bit).
   */
  slice(addr: number, length: number): Uint8Array {
    const s = this.trySlice(addr, length);
    if (s === undefined) throw new GuestMemoryError(addr, length);
    return s;
  }

  /** Like `slice`, but returns undefined instead of throwing GuestMemoryError. */
  trySlice(addr: number, length: number): Uint8Array | undefined {
    const v = this.#find(addr, length);
    if (v >= 0) {
      const off = addr - this.#viewStart[v]!;
      return this.#viewBytes(v).subarray(off, off + length);
    }
    if (v !== LONG) return undefined;
    if (length > MAX_VIEW_BYTES)
      throw new RangeError(
        `guest memory range 0x${addr.toString(16)}+0x${length.toString(16)} is over 4 GiB, more than one view holds`,
      );
    const r = this.#regions[this.#regionOf(addr, length)]!;
    return r.view(addr - r.guestAddr, length);
  }

  /** View index for an integer access, throwing GuestMemoryError when the range is not inside one region. */
  #at(addr: number, length: number): number {
    const v = this.#find(addr, length);
    if (v < 0) throw new GuestMemoryError(addr, length);
    return v;
  }

  read(addr: number, length: number): Uint8Array {
    return this.slice(addr, length).slice();
  }

  write(addr: number, data: Uint8Array): void {
    this.slice(addr, data.length).set(data);
  }

  readU8(addr: number): number {
    const v = this.#at(addr, 1);
    return this.#dataView(v).getUint8(addr - this.#viewStart[v]!);
  }
  readU16(addr: number): number {
    const v = this.#at(addr, 2);
    return this.#dataView(v).getUint16(addr - this.#viewStart[v]!, true);
  }
  readU32(addr: number): number {
    const v = this.#at(addr, 4);
    return this.#dataView(v).getUint32(addr - this.#viewStart[v]!, true);
  }
  readU64(addr: number): bigint {
    const v = this.#at(addr, 8);
    return this.#dataView(v).getBigUint64(addr - this.#viewStart[v]!, true);
  }
  /**
   * A little-endian u64 as a number, without BigInt; -1 for a value above 2^53 - 1 (no guest address or size
   * that large can be in range). Throws GuestMemoryError like readU64.
   */
  readU64Safe(addr: number): number {
    const v = this.#at(addr, 8);
    const d = this.#dataView(v);
    const o = addr - this.#viewStart[v]!;
    const hi = d.getUint32(o + 4, true);
    if (hi > 0x1f_ffff) return -1;
    return hi * 2 ** 32 + d.getUint32(o, true);
  }
  writeU8(addr: number, value: number): void {
    const v = this.#at(addr, 1);
    this.#dataView(v).setUint8(addr - this.#viewStart[v]!, value);
  }
  writeU16(addr: number, value: number): void {
    const v = this.#at(addr, 2);
    this.#dataView(v).setUint16(addr - this.#viewStart[v]!, value, true);
  }
  writeU32(addr: number, value: number): void {
    const v = this.#at(addr, 4);
    this.#dataView(v).setUint32(addr - this.#viewStart[v]!, value, true);
  }
  writeU64(addr: number, value: bigint): void {
    const v = this.#at(addr, 8);
    this.#dataView(v).setBigUint64(addr - this.#viewStart[v]!, value, true);
  }
}
