// qcow2 reference counts (qcow2.txt "Host cluster management"): a refcount table of 64-bit entries pointing at
// refcount blocks, each an array of 2^refcount_order-bit big-endian counts, one per host cluster.
//
// Allocation reuses freed clusters first (as QEMU and crosvm do): the lowest cluster below the end of the file
// with a count of 0 that is not metadata, searched upward from a hint that only moves back when a cluster is
// freed; only when none is left does the file grow. A refcount block is created on demand (and counts itself),
// and the table is moved to a larger place when it runs out of entries, up to MAX_REFCOUNT_TABLE_BYTES. Every
// change is written through to the file, counts before the references to them, so a crash leaks clusters at
// worst. Refcount blocks are cached, at most REFCOUNT_CACHE_BYTES of them (write-through, so eviction is free).
import { DiskError } from "../disk_file.ts";
import type { FileIo } from "../raw.ts";
import { MAX_REFCOUNT_TABLE_BYTES } from "./header.ts";

/** Refcount table entry: bits 9-63 are the refcount block offset (qcow2.txt). */
export const REFT_OFFSET_MASK = 0xffff_ffff_ffff_fe00n;
/** Refcount blocks kept in memory, in bytes (at least a few blocks whatever the cluster size). */
export const REFCOUNT_CACHE_BYTES = 4 * 1024 * 1024;

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
  /** Offsets of every refcount block the table names (to keep data away from them). */
  readonly #blockSet = new Set<number>();
  readonly #cache = new Map<number, Uint8Array>();
  readonly #cacheLimit: number;
  #nextFree: number;
  /** No cluster below this one is free (a lower bound for the search; see allocate). */
  #freeHint: number;

  private constructor(io: FileIo, layout: RefcountLayout, table: number[], fileSize: number) {
    this.#io = io;
    this.#cs = 2 ** layout.clusterBits;
    this.#entryBytes = 2 ** layout.refcountOrder / 8;
    this.#perBlock = this.#cs / this.#entryBytes;
    this.#table = table;
    for (const b of table) if (b !== 0) this.#blockSet.add(b);
    this.#tableOffset = layout.tableOffset;
    this.#tableClusters = layout.tableClusters;
    this.#nextFree = Math.ceil(fileSize / this.#cs) * this.#cs;
    this.#freeHint = this.#cs;
    this.#cacheLimit = Math.max(4, Math.floor(REFCOUNT_CACHE_BYTES / this.#cs));
  }

  /** Reads the refcount table, checking each entry against the file; `onTableMoved` is told of relocations. */
  static load(io: FileIo, layout: RefcountLayout, fileSize: number): Refcounts {
    const cs = 2 ** layout.clusterBits;
    const bytes = layout.tableClusters * cs;
    if (bytes > MAX_REFCOUNT_TABLE_BYTES)
      throw new DiskError(
        io.path,
        `qcow2 refcount table of ${bytes} bytes is larger than the limit of ${MAX_REFCOUNT_TABLE_BYTES}`,
      );
    const raw = new Uint8Array(bytes);
    io.readFull(raw, layout.tableOffset);
    const v = new DataView(raw.buffer);
    const table: number[] = [];
    for (let i = 0; i < raw.length / 8; i++) {
      const off = Number(v.getBigUint64(i * 8) & REFT_OFFSET_MASK);
      if (off !== 0 && (off % cs !== 0 || off < cs || off >= fileSize))
        throw new DiskError(
          io.path,
          `qcow2 refcount table entry ${i} (0x${off.toString(16)}) is not a cluster inside the file`,
        );
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

  /** The cluster-aligned end of the file: where a new cluster goes when no freed one is left. */
  get nextFree(): number {
    return this.#nextFree;
  }

  /** Whether `offset` is a refcount block or lies in the refcount table. */
  isRefcountMetadata(offset: number): boolean {
    if (this.#blockSet.has(offset)) return true;
    return offset >= this.#tableOffset && offset < this.#tableOffset + this.#tableClusters * this.#cs;
  }

  /** Told when the table moves (to rewrite the header). */
  onTableMoved: (offset: number, clusters: number) => void = () => {};

  /** Told for a candidate free cluster: true when it is the image's metadata anyway (never handed out). */
  isOtherMetadata: (offset: number) => boolean = () => false;

  #block(offset: number): Uint8Array {
    let b = this.#cache.get(offset);
    if (!b) {
      b = new Uint8Array(this.#cs);
      this.#io.readFull(b, offset);
      this.#remember(offset, b);
    }
    return b;
  }

  #remember(offset: number, b: Uint8Array): void {
    if (this.#cache.size >= this.#cacheLimit) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(offset, b);
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
      const fresh = new Uint8Array(this.#cs);
      this.#io.writeFull(fresh, blockOff);
      this.#remember(blockOff, fresh);
      this.#table[ti] = blockOff;
      this.#blockSet.add(blockOff);
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
    if (value === 0 && host < this.#freeHint) this.#freeHint = host;
  }

  /** Drops one reference to `host` (a freed data cluster); its count becomes 0 unless something else shares it. */
  release(host: number): void {
    const n = this.get(host);
    if (n > 0) this.set(host, n - 1);
  }

  /** Takes `count` contiguous clusters at the end of the file without counting them. */
  #take(count: number): number {
    const at = this.#nextFree;
    this.#nextFree += count * this.#cs;
    return at;
  }

  /** The lowest free cluster below the end of the file, or -1 (moves the hint past every used one it sees). */
  #findFree(): number {
    for (let at = this.#freeHint; at < this.#nextFree; at += this.#cs) {
      if (this.get(at) === 0 && !this.isRefcountMetadata(at) && !this.isOtherMetadata(at)) {
        this.#freeHint = at + this.#cs;
        return at;
      }
    }
    this.#freeHint = this.#nextFree;
    return -1;
  }

  /** Allocates one cluster with refcount 1, a freed one when there is one; returns its offset. */
  allocate(): number {
    const free = this.#findFree();
    const at = free >= 0 ? free : this.#take(1);
    this.set(at, 1);
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
    if (clusters * cs > MAX_REFCOUNT_TABLE_BYTES)
      throw new DiskError(
        this.#io.path,
        `qcow2 refcount table would grow past ${MAX_REFCOUNT_TABLE_BYTES} bytes (the image is too large)`,
      );
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
