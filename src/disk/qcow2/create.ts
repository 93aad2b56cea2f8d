// Writes a new, empty qcow2 version 3 image the way `qemu-img create -f qcow2` lays it out: header cluster,
// refcount table, refcount blocks, L1 table, every one of those clusters with refcount 1.
import { strerror } from "../../../ffi/file_lock.ts";
import { O_CREAT, O_EXCL, O_RDWR, O_CLOEXEC, SysError, open } from "../../../ffi/libc.ts";
import { DiskError } from "../disk_file.ts";
import { backingFilePath, openDisk } from "../open.ts";
import { FileIo } from "../raw.ts";
import {
  EXT_BACKING_FORMAT,
  EXT_END,
  MAX_CLUSTER_BITS,
  MIN_CLUSTER_BITS,
  QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION,
  encodeQcow2Header,
} from "./header.ts";

export interface Qcow2CreateOptions {
  /** log2 of the cluster size; qemu-img's default is 16 (64 KiB). */
  readonly clusterBits?: number;
  readonly backingFile?: string;
  /** "raw" or "qcow2"; written as the backing format header extension. */
  readonly backingFormat?: string;
}

const REFCOUNT_ORDER = 4; // 16-bit refcounts, qemu-img's default

/** Creates `path` (which must not exist) as an empty qcow2 image of `size` bytes. */
export function createQcow2(path: string, size: number, options: Qcow2CreateOptions = {}): void {
  const bits = options.clusterBits ?? 16;
  if (bits < MIN_CLUSTER_BITS || bits > MAX_CLUSTER_BITS)
    throw new DiskError(path, `cluster_bits ${bits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`);
  if (!Number.isSafeInteger(size) || size <= 0)
    throw new DiskError(path, `size ${size} is not a positive integer`);
  const cs = 2 ** bits;
  const l2Entries = cs / 8;
  const l1Size = Math.ceil(size / (cs * l2Entries));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = cs / 2;
  // Header + refcount table + blocks + L1 must be covered by the blocks themselves.
  let blocks = 1;
  while (blocks * perBlock < 2 + blocks + l1Clusters) blocks++;
  if (blocks > cs / 8)
    throw new DiskError(path, `size ${size} needs more refcount blocks than one table cluster holds`);
  const refTable = cs;
  const firstBlock = 2 * cs;
  const l1 = firstBlock + blocks * cs;
  const total = 2 + blocks + l1Clusters;

  const header = new Uint8Array(cs);
  const enc = new TextEncoder();
  let backingOffset = 0;
  let backingSize = 0;
  let at = QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION;
  const hv = new DataView(header.buffer);
  if (options.backingFormat) {
    const fmt = enc.encode(options.backingFormat);
    hv.setUint32(at, EXT_BACKING_FORMAT);
    hv.setUint32(at + 4, fmt.length);
    header.set(fmt, at + 8);
    at += 8 + Math.ceil(fmt.length / 8) * 8;
  }
  hv.setUint32(at, EXT_END);
  at += 8;
  if (options.backingFile) {
    const name = enc.encode(options.backingFile);
    if (at + name.length > cs)
      throw new DiskError(path, "backing file name does not fit in the header cluster");
    header.set(name, at);
    backingOffset = at;
    backingSize = name.length;
  }
  header.set(
    encodeQcow2Header({
      version: 3,
      backingFileOffset: backingOffset,
      backingFileSize: backingSize,
      clusterBits: bits,
      size,
      cryptMethod: 0,
      l1Size,
      l1TableOffset: l1,
      refcountTableOffset: refTable,
      refcountTableClusters: 1,
      nbSnapshots: 0,
      snapshotsOffset: 0,
      incompatibleFeatures: 0n,
      compatibleFeatures: 0n,
      autoclearFeatures: 0n,
      refcountOrder: REFCOUNT_ORDER,
      headerLength: QCOW2_V3_HEADER_LENGTH_WITH_COMPRESSION,
    }),
  );

  const table = new Uint8Array(cs);
  const tv = new DataView(table.buffer);
  for (let b = 0; b < blocks; b++) tv.setBigUint64(b * 8, BigInt(firstBlock + b * cs));
  const refBlocks = new Uint8Array(blocks * cs);
  const rv = new DataView(refBlocks.buffer);
  for (let c = 0; c < total; c++) rv.setUint16(c * 2, 1);

  let fd: number;
  try {
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644);
  } catch (e) {
    if (e instanceof SysError) throw new DiskError(path, `cannot create: ${strerror(e.errno)}`);
    throw e;
  }
  const io = new FileIo(fd, path);
  try {
    io.writeFull(header, 0);
    io.writeFull(table, refTable);
    io.writeFull(refBlocks, firstBlock);
    io.writeFull(new Uint8Array(l1Clusters * cs), l1);
    io.sync();
  } finally {
    io.close();
  }
}

/**
 * Creates `path` as an empty overlay on `backingFile` (`crosvm create_qcow2 --backing-file`): the virtual size and
 * the backing format are the backing image's. The name is stored as given, so a relative one is found next to
 * the new image when it is opened (open.ts's rules), and is resolved that way here too.
 */
export function createQcow2Overlay(path: string, backingFile: string): void {
  const backing = openDisk(backingFilePath(path, backingFile), { readOnly: true });
  const size = backing.virtualSize();
  const format = backing.format;
  backing.close();
  createQcow2(path, size, { backingFile, backingFormat: format });
}
