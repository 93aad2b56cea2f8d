// The qcow2 header and its extensions (QEMU docs/interop/qcow2.txt; all fields big-endian). Parsing checks every
// field the rest of the driver relies on and fails with one line naming the file and the field.
import { DiskError } from "../disk_file.ts";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const QCOW2_V2_HEADER_LENGTH = 72;
export const QCOW2_V3_HEADER_LENGTH = 104;
/** What qemu-img writes for version 3: 104 bytes plus compression_type and padding. */
export const QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION = 112;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
/** qcow2.txt: "backing_file_size ... Must not be longer than 1023 bytes." */
export const MAX_BACKING_FILE_NAME = 1023;

/**
 * Most L1 entries an image may have: QEMU's QCOW_MAX_L1_SIZE (32 MiB of entries, block/qcow2.h), our counterpart
 * of crosvm's MAX_RAM_POINTER_TABLE_SIZE. With 64 KiB clusters that is 2 PiB of virtual disk; it keeps a hostile
 * header from making the VMM allocate more than 32 MiB for the table.
 */
export const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;
/** Largest refcount table: QEMU's QCOW_MAX_REFTABLE_SIZE (8 MiB). */
export const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;

/** L1 entries a virtual disk of `size` bytes needs. */
export function l1EntriesNeeded(size: number, clusterBits: number): number {
  const cs = 2 ** clusterBits;
  return Math.ceil(size / (cs * (cs / 8)));
}

/** Incompatible feature bits (qcow2.txt, header bytes 72-79). */
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_EXTERNAL_DATA = 1n << 2n;
export const INCOMPAT_COMPRESSION_TYPE = 1n << 3n;
export const INCOMPAT_EXTENDED_L2 = 1n << 4n;

/** Header extension types (qcow2.txt "Header extensions"). */
export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAME_TABLE = 0x6803f857;

export interface Qcow2Header {
  readonly version: number;
  readonly backingFileOffset: number;
  readonly backingFileSize: number;
  readonly clusterBits: number;
  readonly size: number;
  readonly cryptMethod: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: number;
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  readonly refcountOrder: number;
  readonly headerLength: number;
  readonly backingFile?: string;
  readonly backingFormat?: string;
}

const safe = (v: bigint, field: string, path: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DiskError(path, `qcow2 ${field} ${v} is too large`);
  return Number(v);
};

/** Parses the header from the image's first bytes (at least the header cluster, or the whole file if shorter). */
export function parseQcow2Header(bytes: Uint8Array, path: string, fileSize: number): Qcow2Header {
  const fail = (problem: string): never => {
    throw new DiskError(path, problem);
  };
  if (bytes.length < QCOW2_V2_HEADER_LENGTH) fail("qcow2 header is truncated");
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0) !== QCOW2_MAGIC) fail("not a qcow2 image (bad magic)");
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3) fail(`qcow2 version ${version} is not supported (expected 2 or 3)`);
  const clusterBits = v.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS)
    fail(`qcow2 cluster_bits ${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  const cs = 2 ** clusterBits;
  const h = {
    version,
    backingFileOffset: safe(v.getBigUint64(8), "backing_file_offset", path),
    backingFileSize: v.getUint32(16),
    clusterBits,
    size: safe(v.getBigUint64(24), "size", path),
    cryptMethod: v.getUint32(32),
    l1Size: v.getUint32(36),
    l1TableOffset: safe(v.getBigUint64(40), "l1_table_offset", path),
    refcountTableOffset: safe(v.getBigUint64(48), "refcount_table_offset", path),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    snapshotsOffset: safe(v.getBigUint64(64), "snapshots_offset", path),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: QCOW2_V2_HEADER_LENGTH,
  };
  if (version === 3) {
    if (bytes.length < QCOW2_V3_HEADER_LENGTH) fail("qcow2 version 3 header is truncated");
    h.incompatibleFeatures = v.getBigUint64(72);
    h.compatibleFeatures = v.getBigUint64(80);
    h.autoclearFeatures = v.getBigUint64(88);
    h.refcountOrder = v.getUint32(96);
    h.headerLength = v.getUint32(100);
    if (h.headerLength < QCOW2_V3_HEADER_LENGTH || h.headerLength > cs)
      fail(
        `qcow2 header_length ${h.headerLength} is not between ${QCOW2_V3_HEADER_LENGTH} and the cluster size`,
      );
  }
  if (h.cryptMethod !== 0) fail("encrypted qcow2 images are not supported");
  const inc = h.incompatibleFeatures;
  if (inc & INCOMPAT_DIRTY) fail("qcow2 image is marked dirty (repair it with qemu-img check -r all)");
  if (inc & INCOMPAT_CORRUPT) fail("qcow2 image is marked corrupt");
  if (inc & INCOMPAT_EXTERNAL_DATA) fail("qcow2 images with an external data file are not supported");
  if (inc & INCOMPAT_EXTENDED_L2) fail("qcow2 images with extended L2 entries are not supported");
  const unknown =
    inc &
    ~(
      INCOMPAT_DIRTY |
      INCOMPAT_CORRUPT |
      INCOMPAT_EXTERNAL_DATA |
      INCOMPAT_COMPRESSION_TYPE |
      INCOMPAT_EXTENDED_L2
    );
  if (unknown) fail(`qcow2 image has unknown incompatible features 0x${unknown.toString(16)}`);
  // Refcount entries of 8..64 bits are byte-addressable; qemu-img's default is 16 (order 4).
  if (h.refcountOrder < 3 || h.refcountOrder > 6)
    fail(`qcow2 refcount_order ${h.refcountOrder} is not supported (expected 3..6)`);
  const cluster = (off: number, what: string) => {
    if (off % cs !== 0) fail(`qcow2 ${what} 0x${off.toString(16)} is not cluster-aligned`);
    if (off === 0 || off >= fileSize) fail(`qcow2 ${what} 0x${off.toString(16)} is outside the file`);
  };
  cluster(h.l1TableOffset, "l1_table_offset");
  cluster(h.refcountTableOffset, "refcount_table_offset");
  if (h.refcountTableClusters === 0) fail("qcow2 refcount_table_clusters is 0");
  const needL1 = l1EntriesNeeded(h.size, clusterBits);
  if (needL1 > MAX_L1_ENTRIES)
    fail(
      `qcow2 size ${h.size} needs ${needL1} L1 entries (limit ${MAX_L1_ENTRIES} with ${cs}-byte clusters)`,
    );
  if (h.l1Size > MAX_L1_ENTRIES)
    fail(`qcow2 l1_size ${h.l1Size} is larger than the limit of ${MAX_L1_ENTRIES}`);
  if (h.refcountTableClusters * cs > MAX_REFCOUNT_TABLE_BYTES)
    fail(
      `qcow2 refcount_table_clusters ${h.refcountTableClusters} is larger than the limit of ${MAX_REFCOUNT_TABLE_BYTES} bytes`,
    );
  if (h.l1Size < needL1)
    fail(`qcow2 l1_size ${h.l1Size} is too small for a ${h.size}-byte disk (need ${needL1})`);
  if (h.l1TableOffset + h.l1Size * 8 > fileSize) fail("qcow2 L1 table runs past the end of the file");
  if (h.refcountTableOffset + h.refcountTableClusters * cs > fileSize)
    fail("qcow2 refcount table runs past the end of the file");
  const l1End = h.l1TableOffset + h.l1Size * 8;
  const refEnd = h.refcountTableOffset + h.refcountTableClusters * cs;
  if (h.l1Size > 0 && h.l1TableOffset < refEnd && h.refcountTableOffset < l1End)
    fail("qcow2 L1 table and refcount table overlap");

  let backingFile: string | undefined;
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize === 0 || h.backingFileSize > MAX_BACKING_FILE_NAME)
      fail(`qcow2 backing_file_size ${h.backingFileSize} is not 1..${MAX_BACKING_FILE_NAME}`);
    const end = h.backingFileOffset + h.backingFileSize;
    if (end > bytes.length || end > cs) fail("qcow2 backing file name lies outside the header cluster");
    backingFile = new TextDecoder().decode(bytes.subarray(h.backingFileOffset, end));
  }

  let backingFormat: string | undefined;
  // Header extensions follow the header, each 8-byte aligned, until an end marker.
  let at = h.headerLength;
  while (at + 8 <= Math.min(bytes.length, cs)) {
    const type = v.getUint32(at);
    const len = v.getUint32(at + 4);
    if (type === EXT_END) break;
    if (at + 8 + len > bytes.length)
      fail(`qcow2 header extension 0x${type.toString(16)} runs past the header cluster`);
    if (type === EXT_BACKING_FORMAT)
      backingFormat = new TextDecoder().decode(bytes.subarray(at + 8, at + 8 + len));
    at += 8 + Math.ceil(len / 8) * 8;
  }
  return { ...h, backingFile, backingFormat };
}

/** Serializes a version 3 header (112 bytes: qemu-img's layout with compression_type 0 = zlib). */
export function encodeQcow2Header(h: Qcow2Header): Uint8Array {
  const out = new Uint8Array(QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION);
  const v = new DataView(out.buffer);
  v.setUint32(0, QCOW2_MAGIC);
  v.setUint32(4, 3);
  v.setBigUint64(8, BigInt(h.backingFileOffset));
  v.setUint32(16, h.backingFileSize);
  v.setUint32(20, h.clusterBits);
  v.setBigUint64(24, BigInt(h.size));
  v.setUint32(32, 0);
  v.setUint32(36, h.l1Size);
  v.setBigUint64(40, BigInt(h.l1TableOffset));
  v.setBigUint64(48, BigInt(h.refcountTableOffset));
  v.setUint32(56, h.refcountTableClusters);
  v.setUint32(60, 0);
  v.setBigUint64(64, 0n);
  v.setBigUint64(72, 0n);
  v.setBigUint64(80, 0n);
  v.setBigUint64(88, 0n);
  v.setUint32(96, h.refcountOrder);
  v.setUint32(100, QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION);
  return out;
}
