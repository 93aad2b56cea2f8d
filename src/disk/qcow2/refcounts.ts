// qcow2 reference counts (qcow2.txt "Host cluster management"): a refcount table of 64-bit entries pointing at
// refcount blocks, each an array of 2^refcount_order-bit big-endian counts, one per host cluster. New clusters
// are taken from the end of the file; a refcount block is created on demand (and counts itself), and the table
// is moved to a larger place when it runs out of entries. Every change is written through to the file, counts
// before the references to them, so a crash leaks clusters at worst.
import { DiskError } from "../disk_file.ts";
import type { FileIo } from "../raw.ts";

/** Refcount table entry: bits 9-63 are the refcount block offset (qcow2.txt). */
export const REFT_OFFSET_MASK = 0xffff_ffff_ffff_fe00n;

export interface RefcountLayout {
  readonly clusterBits: number;
  readonly refcountOrder: number;
  readonly tableOffset: number;
  readonly tableClusters: number;
}

export class Refcounts {
  readonly #io: FileIo;
  readonly #cs: number;
  readonly #entryBytes: number;
  /** Host clusters covered by one refcount block. */
  readonly #perBlock: number;
  #table: number[];
  #tableOffset: number;
  #tableClusters: number;
  readonly #blocks = new Map<number, Uint8Array>();
  #nextFree: number;

  private constructor(io: FileIo, layout: RefcountLayout, table: number[], fileSize: number) {
    this.#io = io;
    this.#cs = 2 ** layout.clusterBits;
    this.#entryBytes = 2 ** layout.refcountOrder / 8;
    this.#perBlock = this.#cs / this.#entryBytes;
    this.#table = table;
    this.#tableOffset = layout.tableOffset;
    this.#tableClusters = layout.tableClusters;
    this.#nextFree = Math.ceil(fileSize / this.#cs) * this.#cs;
  }

  /** Reads the refcount table; `onMoved` is told when the table is relocated (to rewrite the header). */
  static load(io: FileIo, layout: RefcountLayout, fileSize: number): Refcounts {
    const cs = 2 ** layout.clusterBits;
    const raw = new Uint8Array(layout.tableClusters * cs);
    io.readFull(raw, layout.tableOffset);
    const v = new DataView(raw.buffer);
    const table: number[] = [];
    for (let i = 0; i < raw.length / 8; i++) {
      const off = Number(v.getBigUint64(i * 8) & REFT_OFFSET_MASK);
      if (off % cs !== 0 || off >= fileSize + cs)
        throw new DiskError(io.path, `qcow2 refcount table entry ${i} points outside the file`);
      table.push(off);
    }
    return new Refcounts(io, layout, table, fileSize);
  }

  get tableOffset(): number {
    return this.#tableOffset;
  }

  get tableClusters(): number {
    return this.#tableClusters;
  }

  /** Where the next new cluster goes (the cluster-aligned end of the file). */
  get nextFree(): number {
    return this.#nextFree;
  }

  onTableMoved: (offset: number, clusters: number) => void = () => {};

  #block(offset: number): Uint8Array {
    let b = this.#blocks.get(offset);
    if (!b) {
      b = new Uint8Array(this.#cs);
      this.#io.readFull(b, offset);
      this.#blocks.set(offset, b);
    }
    return b;
  }

  get(host: number): number {
    const cluster = Math.floor(host / this.#cs);
    const ti = Math.floor(cluster / this.#perBlock);
    const blockOff = this.#table[ti] ?? 0;
    if (blockOff === 0) return 0;
    const b = this.#block(blockOff);
    const at = (cluster % this.#perBlock) * this.#entryBytes;
    let v = 0;
    for (let i = 0; i < this.#entryBytes; i++) v = v * 256 + b[at + i]!;
    return v;
  }

  set(host: number, value: number): void {
    const cluster = Math.floor(host / this.#cs);
    const ti = Math.floor(cluster / this.#perBlock);
    if (ti >= this.#table.length) this.#grow(ti);
    let blockOff = this.#table[ti]!;
    if (blockOff === 0) {
      blockOff = this.#take(1);
      this.#blocks.set(blockOff, new Uint8Array(this.#cs));
      this.#io.writeFull(new Uint8Array(this.#cs), blockOff);
      this.#table[ti] = blockOff;
      this.#writeTableEntry(ti);
      this.set(blockOff, 1);
    }
    const b = this.#block(blockOff);
    const at = (cluster % this.#perBlock) * this.#entryBytes;
    let v = value;
    for (let i = this.#entryBytes - 1; i >= 0; i--) {
      b[at + i] = v % 256;
      v = Math.floor(v / 256);
    }
    this.#io.writeFull(b.subarray(at, at + this.#entryBytes), blockOff + at);
  }

  /** Reserves `count` contiguous clusters at the end of the file without counting them. */
  #take(count: number): number {
    const at = this.#nextFree;
    this.#nextFree += count * this.#cs;
    return at;
  }

  /** Allocates `count` contiguous new clusters with refcount 1; returns the first one's offset. */
  allocate(count = 1): number {
    const at = this.#take(count);
    for (let i = 0; i < count; i++) this.set(at + i * this.#cs, 1);
    return at;
  }

  #writeTableEntry(i: number): void {
    const e = new Uint8Array(8);
    new DataView(e.buffer).setBigUint64(0, BigInt(this.#table[i]!));
    this.#io.writeFull(e, this.#tableOffset + i * 8);
  }

  /** Moves the table to a larger place at the end of the file so that entry `needed` exists. */
  #grow(needed: number): void {
    const cs = this.#cs;
    const oldOffset = this.#tableOffset;
    const oldClusters = this.#tableClusters;
    let clusters = Math.max(1, oldClusters * 2);
    // The new table must also cover the clusters it and its refcount blocks will occupy.
    const covers = (c: number) =>
      (c * cs) / 8 > needed && ((c * cs) / 8) * this.#perBlock * cs > this.#nextFree + 2 * c * cs;
    while (!covers(clusters)) clusters *= 2;
    const offset = this.#take(clusters);
    const entries = (clusters * cs) / 8;
    while (this.#table.length < entries) this.#table.push(0);
    const raw = new Uint8Array(clusters * cs);
    const v = new DataView(raw.buffer);
    this.#table.forEach((e, i) => v.setBigUint64(i * 8, BigInt(e)));
    this.#io.writeFull(raw, offset);
    this.#tableOffset = offset;
    this.#tableClusters = clusters;
    for (let i = 0; i < clusters; i++) this.set(offset + i * cs, 1);
    this.onTableMoved(offset, clusters);
    for (let i = 0; i < oldClusters; i++) this.set(oldOffset + i * cs, 0);
  }
}
