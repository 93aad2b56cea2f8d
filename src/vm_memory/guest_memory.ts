// Guest physical memory as seen by the VMM: a list of non-overlapping regions, each backed by host bytes.
// The real VM backs every region with one memfd mapped MAP_SHARED (so device processes can map the same pages);
// unit tests back them with plain ArrayBuffers. Every guest-supplied address goes through `slice`, which refuses
// ranges outside RAM or straddling two regions.

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
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i]!;
      if (addr >= r.guestAddr && addr + length <= r.guestAddr + r.size) return i;
    }
    return -1;
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

  #view(addr: number, length: number): [DataView, number] {
    const i = this.#find(addr, length);
    if (i < 0) throw new GuestMemoryError(addr, length);
    return [this.#views[i]!, addr - this.#regions[i]!.guestAddr];
  }

  read(addr: number, length: number): Uint8Array {
    return this.slice(addr, length).slice();
  }

  write(addr: number, data: Uint8Array): void {
    this.slice(addr, data.length).set(data);
  }

  readU8(addr: number): number {
    const [v, o] = this.#view(addr, 1);
    return v.getUint8(o);
  }
  readU16(addr: number): number {
    const [v, o] = this.#view(addr, 2);
    return v.getUint16(o, true);
  }
  readU32(addr: number): number {
    const [v, o] = this.#view(addr, 4);
    return v.getUint32(o, true);
  }
  readU64(addr: number): bigint {
    const [v, o] = this.#view(addr, 8);
    return v.getBigUint64(o, true);
  }
  writeU8(addr: number, value: number): void {
    const [v, o] = this.#view(addr, 1);
    v.setUint8(o, value);
  }
  writeU16(addr: number, value: number): void {
    const [v, o] = this.#view(addr, 2);
    v.setUint16(o, value, true);
  }
  writeU32(addr: number, value: number): void {
    const [v, o] = this.#view(addr, 4);
    v.setUint32(o, value, true);
  }
  writeU64(addr: number, value: bigint): void {
    const [v, o] = this.#view(addr, 8);
    v.setBigUint64(o, value, true);
  }
}
