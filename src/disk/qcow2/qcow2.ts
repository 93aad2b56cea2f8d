// qcow2 images (QEMU docs/interop/qcow2.txt), read and write, with a backing file and without compression.
// A virtual offset maps through the L1 table (in memory) to an L2 table (cached) to a host cluster:
//
//   cluster = offset >> cluster_bits;  L1 index = cluster / (cluster_size / 8);  L2 index = cluster % (cluster_size / 8)
//
// Writing an unallocated cluster allocates one (a freed cluster first, else at the end of the file; refcount
// first, data next, the L2 entry last) and fills the bytes around the write from the backing file, or with zeros.
//
// The image is untrusted: every L2 table and data cluster offset read from it must be cluster-aligned, lie inside
// the file and outside the image's own metadata (header cluster, L1 table, refcount table and blocks; a data
// cluster may not be an L2 table either), or the access fails with a DiskError naming the entry. Memory is
// bounded: the L1 table holds only the entries the virtual size needs (at most MAX_L1_ENTRIES, see header.ts),
// and L2 tables are cached up to L2_CACHE_BYTES.
import { DiskError, type DiskFile } from "../disk_file.ts";
import type { FileIo } from "../raw.ts";
import { type Qcow2Header, l1EntriesNeeded } from "./header.ts";
import { Refcounts } from "./refcounts.ts";

/** L1/L2 entry bits (qcow2.txt "Cluster mapping"). */
export const OFFSET_MASK = 0x00ff_ffff_ffff_fe00n;
export const OFLAG_COPIED = 1n << 63n;
export const OFLAG_COMPRESSED = 1n << 62n;
/** Version 3 L2 entries: "the cluster reads as all zeros". */
export const OFLAG_ZERO = 1n;

/** L2 tables kept in memory, in bytes (at least a few tables whatever the cluster size). */
export const L2_CACHE_BYTES = 4 * 1024 * 1024;

/**
 * A run of clusters that read alike (Qcow2Disk readRun): zero, back to back in the file from `host`, or in the
 * backing file.
 */
interface ClusterRun {
  kind: "zero" | "host" | "backing";
  host: number;
  length: number;
}

export class Qcow2Disk implements DiskFile {
  readonly format = "qcow2";
  readonly #io: FileIo;
  readonly #h: Qcow2Header;
  readonly #cs: number;
  readonly #l2Entries: number;
  /** The L1 entries the virtual size uses (an image's l1_size may be larger; the rest is never reached). */
  readonly #l1: BigUint64Array;
  /** Host offsets of the L2 tables the L1 table names. */
  readonly #l2Set = new Set<number>();
  /** Raw big-endian L2 tables by host offset, oldest first. */
  readonly #l2Cache = new Map<number, DataView>();
  readonly #l2CacheLimit: number;
  readonly #refcounts: Refcounts | undefined;
  readonly #fileSize: number;

  constructor(
    io: FileIo,
    header: Qcow2Header,
    readonly readOnly: boolean,
    /** The backing image, already opened read-only; reads of unallocated clusters come from it. */
    readonly backing: DiskFile | undefined,
  ) {
    this.#io = io;
    this.#h = header;
    this.#cs = 2 ** header.clusterBits;
    this.#l2Entries = this.#cs / 8;
    this.#l2CacheLimit = Math.max(4, Math.floor(L2_CACHE_BYTES / this.#cs));
    this.#fileSize = io.size();
    if (header.nbSnapshots > 0 && !readOnly)
      throw new DiskError(io.path, "qcow2 images with internal snapshots can only be opened read-only");
    const entries = Math.min(header.l1Size, l1EntriesNeeded(header.size, header.clusterBits));
    const raw = new Uint8Array(entries * 8);
    io.readFull(raw, header.l1TableOffset);
    const v = new DataView(raw.buffer);
    this.#l1 = new BigUint64Array(entries);
    for (let i = 0; i < entries; i++) {
      const e = v.getBigUint64(i * 8);
      this.#l1[i] = e;
      const l2 = Number(e & OFFSET_MASK);
      if (l2 !== 0) this.#l2Set.add(l2);
    }
    if (!readOnly) {
      this.#refcounts = Refcounts.load(
        io,
        {
          clusterBits: header.clusterBits,
          refcountOrder: header.refcountOrder,
          tableOffset: header.refcountTableOffset,
          tableClusters: header.refcountTableClusters,
        },
        this.#fileSize,
      );
      this.#refcounts.onTableMoved = (offset, clusters) => this.#writeRefcountTableLocation(offset, clusters);
      this.#refcounts.isOtherMetadata = (offset) => this.#inL1Table(offset) || this.#l2Set.has(offset);
    }
  }

  get path(): string {
    return this.#io.path;
  }

  get clusterSize(): number {
    return this.#cs;
  }

  virtualSize(): number {
    return this.#h.size;
  }

  #fail(problem: string): never {
    throw new DiskError(this.path, problem);
  }

  #inL1Table(offset: number): boolean {
    const start = this.#h.l1TableOffset;
    return offset + this.#cs > start && offset < start + this.#h.l1Size * 8;
  }

  /** Whether `offset` is the refcount table or a refcount block (the header's table when opened read-only). */
  #inRefcounts(offset: number): boolean {
    if (this.#refcounts) return this.#refcounts.isRefcountMetadata(offset);
    const h = this.#h;
    return (
      offset + this.#cs > h.refcountTableOffset &&
      offset < h.refcountTableOffset + h.refcountTableClusters * this.#cs
    );
  }

  /**
   * The end of the image's clusters: the file's size at open rounded up to a whole cluster (a last cluster may be
   * partly written; its tail reads as zeros), or further once clusters were added.
   */
  #fileEnd(): number {
    return Math.max(Math.ceil(this.#fileSize / this.#cs) * this.#cs, this.#refcounts?.nextFree ?? 0);
  }

  /**
   * The host offset in `entry` (0 for none), checked: cluster-aligned, inside the file, not the header cluster,
   * not the L1 or refcount table or a refcount block, and for data not an L2 table.
   */
  #hostOffset(entry: bigint, what: "L2 table" | "data cluster"): number {
    const off = Number(entry & OFFSET_MASK);
    if (off === 0) return 0;
    if (off % this.#cs !== 0) this.#fail(`${what} offset 0x${off.toString(16)} is not cluster-aligned`);
    if (off + this.#cs > this.#fileEnd())
      this.#fail(`${what} at 0x${off.toString(16)} lies past the end of the file`);
    if (
      off < this.#cs ||
      this.#inL1Table(off) ||
      this.#inRefcounts(off) ||
      (what === "data cluster" && this.#l2Set.has(off))
    )
      this.#fail(`${what} offset 0x${off.toString(16)} points into the image's metadata`);
    return off;
  }

  #l2Table(offset: number): DataView {
    let t = this.#l2Cache.get(offset);
    if (t) return t;
    const raw = new Uint8Array(this.#cs);
    this.#io.readFull(raw, offset);
    t = new DataView(raw.buffer);
    this.#cacheL2(offset, t);
    return t;
  }

  #cacheL2(offset: number, t: DataView): void {
    if (this.#l2Cache.size >= this.#l2CacheLimit) this.#l2Cache.delete(this.#l2Cache.keys().next().value!);
    this.#l2Cache.set(offset, t);
  }

  /** The L2 entry of virtual cluster `cluster` (0n when its L2 table does not exist). */
  #entry(cluster: number): bigint {
    const l1e = this.#l1[Math.floor(cluster / this.#l2Entries)] ?? 0n;
    const l2 = this.#hostOffset(l1e, "L2 table");
    if (l2 === 0) return 0n;
    return this.#l2Table(l2).getBigUint64((cluster % this.#l2Entries) * 8);
  }

  /** Visits [offset, offset+length) one cluster piece at a time. */
  #pieces(
    offset: number,
    length: number,
    each: (cluster: number, inCluster: number, n: number, done: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const cluster = Math.floor(pos / this.#cs);
      const inCluster = pos % this.#cs;
      const n = Math.min(length - done, this.#cs - inCluster);
      each(cluster, inCluster, n, done);
      done += n;
    }
  }

  #checkRange(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.#h.size)
      this.#fail(`access 0x${offset.toString(16)}+0x${length.toString(16)} is past the virtual size`);
  }

  /** Reads from the backing file, zero past its end. */
  #readBacking(buf: Uint8Array, offset: number): void {
    buf.fill(0);
    const b = this.backing;
    if (!b) return;
    const n = Math.max(0, Math.min(buf.length, b.virtualSize() - offset));
    if (n > 0) b.readAt(buf.subarray(0, n), offset);
  }

  readAt(buf: Uint8Array, offset: number): void {
    this.#checkRange(offset, buf.length);
    this.#pieces(offset, buf.length, (cluster, inCluster, n, done) => {
      const piece = buf.subarray(done, done + n);
      const e = this.#entry(cluster);
      if (e & OFLAG_COMPRESSED) this.#fail("compressed clusters are not supported");
      if (e & OFLAG_ZERO) return piece.fill(0);
      const host = this.#hostOffset(e, "data cluster");
      if (host !== 0) this.#io.readFull(piece, host + inCluster);
      else this.#readBacking(piece, cluster * this.#cs + inCluster);
    });
  }

  /**
   * Fills `bufs` in order from `offset` as readAt does, but with one host call per run of clusters that read
   * alike: allocated clusters back to back in the file (one preadv), unallocated ones (one vectored read of the
   * backing file, which lies back to back there), zero clusters. A fresh overlay's multi-segment read is then one
   * preadv of the backing file instead of a pread per segment.
   */
  readVectored(bufs: readonly Uint8Array[], offset: number): void {
    this.#forEachRun(bufs, offset, (run, parts, pos) => {
      if (run.kind === "zero") for (const p of parts) p.fill(0);
      else if (run.kind === "host") this.#io.readvFull(parts, run.host);
      else this.#readBackingVectored(parts, pos, run.length);
    });
  }

  /**
   * Calls `each` for every run (readRun) of the range `bufs` cover from `offset`, in order, with the slices of
   * `bufs` it spans; a run is found only after `each` handled the one before it (a write may allocate clusters).
   */
  #forEachRun(
    bufs: readonly Uint8Array[],
    offset: number,
    each: (run: ClusterRun, parts: Uint8Array[], pos: number) => void,
  ): void {
    const total = bufs.reduce((n, b) => n + b.length, 0);
    this.#checkRange(offset, total);
    const cursor = new SliceCursor(bufs);
    const end = offset + total;
    for (let pos = offset; pos < end;) {
      const run = this.#readRun(pos, end);
      each(run, cursor.take(run.length), pos);
      pos += run.length;
    }
  }

  /** The longest run from `pos` (before `end`) of clusters that read the same way, see readVectored. */
  #readRun(pos: number, end: number): ClusterRun {
    const kindOf = (cluster: number): { kind: "zero" | "host" | "backing"; host: number } => {
      const e = this.#entry(cluster);
      if (e & OFLAG_COMPRESSED) this.#fail("compressed clusters are not supported");
      if (e & OFLAG_ZERO) return { kind: "zero", host: 0 };
      const host = this.#hostOffset(e, "data cluster");
      return host !== 0 ? { kind: "host", host } : { kind: "backing", host: 0 };
    };
    const cs = this.#cs;
    let cluster = Math.floor(pos / cs);
    const first = kindOf(cluster);
    const start = first.host + (pos % cs);
    let runEnd = Math.min(end, (cluster + 1) * cs);
    while (runEnd < end) {
      const next = kindOf(++cluster);
      if (next.kind !== first.kind) break;
      if (first.kind === "host" && next.host !== start + (runEnd - pos)) break;
      runEnd = Math.min(end, (cluster + 1) * cs);
    }
    return { kind: first.kind, host: start, length: runEnd - pos };
  }

  /** `parts` (`length` bytes in all) from the backing file at `offset`, zero past its end. */
  #readBackingVectored(parts: readonly Uint8Array[], offset: number, length: number): void {
    const b = this.backing;
    if (b?.readVectored && offset + length <= b.virtualSize()) return b.readVectored(parts, offset);
    for (const p of parts) {
      this.#readBacking(p, offset);
      offset += p.length;
    }
  }

  /**
   * Writes `bufs` back to back from `offset` as writeAt does, with one pwritev per run of allocated clusters that
   * lie back to back in the file; a cluster that needs allocating (or was a zero cluster) goes through writeAt.
   */
  writeVectored(bufs: readonly Uint8Array[], offset: number): void {
    if (this.readOnly) this.#fail("is read-only");
    this.#forEachRun(bufs, offset, (run, parts, pos) => {
      if (run.kind === "host") return this.#io.writevFull(parts, run.host);
      for (const p of parts) {
        this.writeAt(p, pos);
        pos += p.length;
      }
    });
  }

  writeAt(buf: Uint8Array, offset: number): void {
    if (this.readOnly) this.#fail("is read-only");
    this.#checkRange(offset, buf.length);
    this.#pieces(offset, buf.length, (cluster, inCluster, n, done) => {
      const piece = buf.subarray(done, done + n);
      const e = this.#entry(cluster);
      if (e & OFLAG_COMPRESSED) this.#fail("compressed clusters are not supported");
      const host = this.#hostOffset(e, "data cluster");
      if (host !== 0 && !(e & OFLAG_ZERO)) {
        this.#io.writeFull(piece, host + inCluster);
        return;
      }
      // A new cluster: what the write does not cover comes from below (zeros for a zero cluster).
      const data = new Uint8Array(this.#cs);
      if (!(e & OFLAG_ZERO)) this.#readBacking(data, cluster * this.#cs);
      data.set(piece, inCluster);
      const target = host !== 0 ? host : this.#refcounts!.allocate();
      this.#io.writeFull(data, target);
      this.#setEntry(cluster, BigInt(target) | OFLAG_COPIED);
    });
  }

  /** Writes an L2 entry, creating the L2 table (and its L1 entry) when needed. */
  #setEntry(cluster: number, value: bigint): void {
    const l1i = Math.floor(cluster / this.#l2Entries);
    let l2 = this.#hostOffset(this.#l1[l1i] ?? 0n, "L2 table");
    if (l2 === 0) {
      l2 = this.#refcounts!.allocate();
      this.#io.writeFull(new Uint8Array(this.#cs), l2);
      this.#cacheL2(l2, new DataView(new ArrayBuffer(this.#cs)));
      this.#l2Set.add(l2);
      this.#l1[l1i] = BigInt(l2) | OFLAG_COPIED;
      this.#writeU64(this.#h.l1TableOffset + l1i * 8, this.#l1[l1i]!);
    }
    const i = cluster % this.#l2Entries;
    this.#l2Table(l2).setBigUint64(i * 8, value);
    this.#writeU64(l2 + i * 8, value);
  }

  #writeU64(at: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value);
    this.#io.writeFull(b, at);
  }

  #writeRefcountTableLocation(offset: number, clusters: number): void {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(offset));
    v.setUint32(8, clusters);
    this.#io.writeFull(b, 48); // refcount_table_offset, refcount_table_clusters
  }

  flush(): void {
    this.#io.sync();
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length, true);
  }

  /**
   * Whole clusters become unallocated (or zero clusters over a backing file) and their host clusters are freed
   * for reuse; partial clusters at the edges get zeros written.
   */
  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    if (this.readOnly) this.#fail("is read-only");
    const len = Math.max(0, Math.min(length, this.#h.size - offset));
    this.#pieces(offset, len, (cluster, inCluster, n) => {
      const e = this.#entry(cluster);
      const host = e & OFLAG_COMPRESSED ? 0 : this.#hostOffset(e, "data cluster");
      if (n < this.#cs) {
        if (host !== 0 || this.backing) this.writeAt(new Uint8Array(n), cluster * this.#cs + inCluster);
        return;
      }
      const wanted = this.backing && this.#h.version >= 3 ? OFLAG_ZERO : 0n;
      if (e === wanted) return;
      if (wanted === 0n && this.backing) {
        // Version 2 has no zero flag: keep the cluster and fill it with zeros.
        this.writeAt(new Uint8Array(this.#cs), cluster * this.#cs);
        return;
      }
      this.#setEntry(cluster, wanted);
      if (host !== 0) {
        this.#refcounts!.release(host);
        try {
          this.#io.punchHole(host, this.#cs);
        } catch {
          // Punching is an optimization; the cluster is free either way.
        }
      }
    });
  }

  /** Allocates every cluster of the virtual disk (sparse=false). */
  allocateAll(): void {
    if (this.readOnly) this.#fail("is read-only");
    const clusters = Math.ceil(this.#h.size / this.#cs);
    for (let c = 0; c < clusters; c++) {
      const e = this.#entry(c);
      if ((e & OFFSET_MASK) === 0n) this.writeAt(this.#clusterFromBelow(c), c * this.#cs);
    }
  }

  resize(_size: number): void {
    this.#fail("resizing qcow2 images is not supported");
  }

  #clusterFromBelow(cluster: number): Uint8Array {
    const n = Math.min(this.#cs, this.#h.size - cluster * this.#cs);
    const data = new Uint8Array(n);
    this.readAt(data, cluster * this.#cs);
    return data;
  }

  close(): void {
    this.backing?.close();
    this.#io.close();
  }
}

/** Walks a list of buffers as one byte stream, handing out the views that cover the next `n` bytes. */
class SliceCursor {
  #index = 0;
  #at = 0;

  constructor(private readonly bufs: readonly Uint8Array[]) {}

  take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (n > 0) {
      const b = this.bufs[this.#index]!;
      const k = Math.min(n, b.length - this.#at);
      out.push(this.#at === 0 && k === b.length ? b : b.subarray(this.#at, this.#at + k));
      n -= k;
      this.#at += k;
      if (this.#at === b.length) {
        this.#index++;
        this.#at = 0;
      }
    }
    return out;
  }
}
