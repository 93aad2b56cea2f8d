// A raw disk image: virtual offset = file offset. The image may be a regular file or a host block device (a
// partition, an LVM volume, a loop device): then its size and logical block size come from BLKGETSIZE64 and
// BLKSSZGET, discard and write-zeroes go through fallocate, which Linux turns into a device zero-out (PUNCH_HOLE:
// unmapping, refused with EOPNOTSUPP by a device that cannot; ZERO_RANGE: writing zeros), and it cannot be
// resized or preallocated. With O_DIRECT every transfer goes through a bounce buffer
// aligned in memory, offset and length (read-modify-write at unaligned edges), since guest buffers and request
// sizes need not meet the host's alignment rules.
import { ptr } from "bun:ffi";
import { fstatSync } from "node:fs";
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  addressOf,
  close,
  fallocate,
  fdatasync,
  ftruncate,
  pread,
  preadvAt,
  pwrite,
  pwritevAt,
  SysError,
} from "../../ffi/libc.ts";
import { blockDeviceSize, logicalBlockSize } from "../../ffi/blkdev.ts";
import { DiskError, type DiskFile } from "./disk_file.ts";
import { PROBE_BYTES, writeChangesFormat } from "./probe.ts";

/** A guest write that would turn a probed raw image into another format (see probe.ts); refused. */
export class FormatChangeRefused extends DiskError {
  constructor(path: string) {
    super(
      path,
      "write to sector 0 refused: the image's format was detected as raw and the write would make it detect as qcow2",
    );
    this.name = "FormatChangeRefused";
  }
}

/** Alignment for O_DIRECT transfers: a page covers every logical block size Linux file systems use. */
export const DIRECT_ALIGN = 4096;
/** Largest single bounce transfer. */
const BOUNCE_SIZE = 1 << 20;

/** Memory whose address is a multiple of `align`: ArrayBuffer backing stores do not move in JSC. */
export function alignedBuffer(size: number, align = DIRECT_ALIGN): Uint8Array {
  const raw = new Uint8Array(size + align);
  const skew = addressOf(raw) % align;
  return raw.subarray(skew === 0 ? 0 : align - skew, (skew === 0 ? 0 : align - skew) + size);
}

// preadv(2)/pwritev(2): a multi-segment virtio-blk request is one system call instead of one per guest buffer.
/** Most iovecs one call takes (UIO_MAXIOV, include/uapi/linux/uio.h). */
export const IOV_MAX = 1024;
/** struct iovec { void *iov_base; size_t iov_len; }: 16 bytes, as four u32 words. */
const iovecs = new Uint32Array(IOV_MAX * 4);

/** Fills `iovecs` for the first min(IOV_MAX, bufs.length) buffers; returns how many. */
function fillIovecs(bufs: readonly Uint8Array[]): number {
  const n = Math.min(bufs.length, IOV_MAX);
  for (let i = 0; i < n; i++) {
    const b = bufs[i]!;
    const addr = addressOf(b);
    iovecs[4 * i] = addr % 2 ** 32;
    iovecs[4 * i + 1] = Math.floor(addr / 2 ** 32);
    iovecs[4 * i + 2] = b.length;
    iovecs[4 * i + 3] = 0;
  }
  return n;
}

/** `bufs` without their first `n` bytes. */
function advance(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < bufs.length && n >= bufs[i]!.length) n -= bufs[i++]!.length;
  const rest = bufs.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/**
 * struct iovec entries built in place from host addresses (a guest request's buffers), reused from request to
 * request so that a transfer allocates nothing.
 */
export class IovecList {
  readonly words = new Uint32Array(IOV_MAX * 4);
  count = 0;
  /** Sum of the lengths. */
  bytes = 0;

  clear(): void {
    this.count = 0;
    this.bytes = 0;
  }

  /**
   * Appends [hostAddr, hostAddr+len), growing the last entry instead when the range continues it (guest pages
   * that lie back to back in host memory); false when a new entry is needed and the list is full (IOV_MAX).
   */
  append(hostAddr: number, len: number): boolean {
    const i = this.count - 1;
    const w = this.words;
    if (i >= 0) {
      const last = w[4 * i]! + w[4 * i + 1]! * 2 ** 32;
      const lastLen = w[4 * i + 2]!;
      // iov_len is kept below 2^32 here (its upper word stays 0); a chain's total is at most 2^32 anyway.
      if (last + lastLen === hostAddr && lastLen + len < 2 ** 32) {
        w[4 * i + 2] = lastLen + len;
        this.bytes += len;
        return true;
      }
    }
    return this.push(hostAddr, len);
  }

  /** Appends [hostAddr, hostAddr+len) as an entry of its own; false when the list is full (IOV_MAX entries). */
  push(hostAddr: number, len: number): boolean {
    const i = this.count;
    if (i >= IOV_MAX) return false;
    const w = this.words;
    w[4 * i] = hostAddr % 2 ** 32;
    w[4 * i + 1] = Math.floor(hostAddr / 2 ** 32);
    w[4 * i + 2] = len;
    w[4 * i + 3] = 0;
    this.count = i + 1;
    this.bytes += len;
    return true;
  }
}

/** A disk that can transfer straight between an IovecList and the image (one preadv/pwritev). */
export interface IovecDisk {
  /** The image's descriptor, for a transfer the caller does itself (an io_uring request). */
  readonly fd: number;
  /**
   * Whether a read or write of iovecs at `offset` may go straight to `fd`: not on an O_DIRECT disk (its bounce
   * buffer) nor a write over a probed image's first bytes (the general path checks that it keeps the format).
   */
  canTransferIovecs(write: boolean, offset: number): boolean;
  /**
   * One preadv/pwritev of `iov` at `offset`; returns the bytes moved (fewer at end of file), or -1 when this disk
   * cannot do it (O_DIRECT needs its bounce buffer): the caller then uses readVectored/writeVectored.
   */
  readIovecs(iov: IovecList, offset: number): number;
  writeIovecs(iov: IovecList, offset: number): number;
}

export function isIovecDisk(disk: object): disk is IovecDisk {
  return typeof (disk as Partial<IovecDisk>).readIovecs === "function";
}

/** Full-length pread/pwrite loops over a file descriptor, shared by the raw and qcow2 formats. */
export class FileIo {
  constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  size(): number {
    return fstatSync(this.fd).size;
  }

  /** Reads `buf.length` bytes at `offset`; bytes past end of file read as zero. */
  readFull(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = pread(this.fd, buf.subarray(done), offset + done, this.path);
      if (n === 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  /** One pread (O_DIRECT needs aligned offsets, so no retry at an unaligned one); a short read is end of file. */
  readOnce(buf: Uint8Array, offset: number): void {
    const n = pread(this.fd, buf, offset, this.path);
    if (n < buf.length) buf.fill(0, n);
  }

  /** Fills `bufs` in order from `offset` (preadv); bytes past end of file read as zero. */
  readvFull(bufs: readonly Uint8Array[], offset: number): void {
    let rest = bufs.filter((b) => b.length > 0);
    while (rest.length > 0) {
      const n = fillIovecs(rest);
      const got = preadvAt(this.fd, ptr(iovecs), n, offset, this.path);
      if (got === 0) {
        for (const b of rest) b.fill(0);
        return;
      }
      offset += got;
      rest = advance(rest, got);
    }
  }

  /** Writes `bufs` back to back from `offset` (pwritev). */
  writevFull(bufs: readonly Uint8Array[], offset: number): void {
    let rest = bufs.filter((b) => b.length > 0);
    while (rest.length > 0) {
      const n = fillIovecs(rest);
      const put = pwritevAt(this.fd, ptr(iovecs), n, offset, this.path);
      if (put === 0) throw new DiskError(this.path, `pwritev wrote nothing at offset ${offset}`);
      offset += put;
      rest = advance(rest, put);
    }
  }

  writeFull(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) done += pwrite(this.fd, buf.subarray(done), offset + done, this.path);
  }

  sync(): void {
    fdatasync(this.fd, this.path);
  }

  punchHole(offset: number, length: number): void {
    if (length > 0) fallocate(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length, this.path);
  }

  zeroRange(offset: number, length: number): void {
    if (length > 0) fallocate(this.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length, this.path);
  }

  allocate(offset: number, length: number): void {
    if (length > 0) fallocate(this.fd, 0, offset, length, this.path);
  }

  close(): void {
    close(this.fd);
  }
}

export class RawDisk implements DiskFile, IovecDisk {
  readonly format = "raw";
  readonly #io: FileIo;
  #size: number;
  #bounce: Uint8Array | undefined;

  constructor(
    fd: number,
    readonly path: string,
    readonly readOnly: boolean,
    readonly direct: boolean,
    /** The format was detected rather than given: sector 0 may never come to look like another format. */
    readonly probed = false,
  ) {
    this.#io = new FileIo(fd, path);
    this.hostBlockDevice = fstatSync(fd).isBlockDevice();
    this.#size = this.hostBlockDevice ? blockDeviceSize(fd, path) : this.#io.size();
    this.#blockSize = this.hostBlockDevice ? logicalBlockSize(fd, path) : 512;
  }

  /** True for a host block device rather than a regular file. */
  readonly hostBlockDevice: boolean;
  readonly #blockSize: number;

  virtualSize(): number {
    return this.#size;
  }

  logicalBlockSize(): number {
    return this.#blockSize;
  }

  readAt(buf: Uint8Array, offset: number): void {
    if (!this.direct) return this.#io.readFull(buf, offset);
    this.#eachAlignedSpan(offset, buf.length, (bounce, start, off, n, done) => {
      this.#io.readOnce(bounce, start);
      buf.set(bounce.subarray(off - start, off - start + n), done);
    });
  }

  get fd(): number {
    return this.#io.fd;
  }

  canTransferIovecs(write: boolean, offset: number): boolean {
    return !this.direct && !(write && this.probed && offset < PROBE_BYTES);
  }

  readIovecs(iov: IovecList, offset: number): number {
    if (!this.canTransferIovecs(false, offset)) return -1;
    return preadvAt(this.#io.fd, ptr(iov.words), iov.count, offset, this.path);
  }

  writeIovecs(iov: IovecList, offset: number): number {
    if (!this.canTransferIovecs(true, offset)) return -1;
    return pwritevAt(this.#io.fd, ptr(iov.words), iov.count, offset, this.path);
  }

  readVectored(bufs: readonly Uint8Array[], offset: number): void {
    if (!this.direct) return this.#io.readvFull(bufs, offset);
    for (const b of bufs) {
      this.readAt(b, offset);
      offset += b.length;
    }
  }

  writeVectored(bufs: readonly Uint8Array[], offset: number): void {
    this.#checkFormatKept(bufs, offset);
    if (!this.direct) return this.#io.writevFull(bufs, offset);
    for (const b of bufs) {
      this.writeAt(b, offset);
      offset += b.length;
    }
  }

  writeAt(buf: Uint8Array, offset: number): void {
    this.#checkFormatKept([buf], offset);
    if (!this.direct) return this.#io.writeFull(buf, offset);
    this.#eachAlignedSpan(offset, buf.length, (bounce, start, off, n, done) => {
      // Unaligned edges: read the enclosing blocks first so bytes outside the write survive.
      if (off !== start || (off + n) % DIRECT_ALIGN !== 0) this.#io.readOnce(bounce, start);
      bounce.set(buf.subarray(done, done + n), off - start);
      this.#io.writeFull(bounce, start);
      // A last block that runs past an unaligned end of file must not grow the disk.
      if (start + bounce.length > this.#size && !this.hostBlockDevice)
        ftruncate(this.#io.fd, this.#size, this.path);
    });
  }

  #checkFormatKept(bufs: readonly Uint8Array[], offset: number): void {
    if (!this.probed || offset >= PROBE_BYTES) return;
    const head = new Uint8Array(PROBE_BYTES);
    if (!this.direct) this.#io.readFull(head, 0);
    else
      this.#eachAlignedSpan(0, PROBE_BYTES, (bounce, start) => {
        this.#io.readOnce(bounce, start);
        head.set(bounce.subarray(0, PROBE_BYTES));
      });
    if (writeChangesFormat(head, bufs, offset)) throw new FormatChangeRefused(this.path);
  }

  /** Splits [offset, offset+length) into aligned spans of at most BOUNCE_SIZE, each with its bounce view. */
  #eachAlignedSpan(
    offset: number,
    length: number,
    each: (bounce: Uint8Array, start: number, off: number, n: number, done: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const off = offset + done;
      const start = Math.floor(off / DIRECT_ALIGN) * DIRECT_ALIGN;
      const span = Math.min(BOUNCE_SIZE, Math.ceil((offset + length - start) / DIRECT_ALIGN) * DIRECT_ALIGN);
      const n = Math.min(length - done, start + span - off);
      each(this.#bounceBuffer().subarray(0, span), start, off, n, done);
      done += n;
    }
  }

  #bounceBuffer(): Uint8Array {
    this.#bounce ??= alignedBuffer(BOUNCE_SIZE);
    return this.#bounce;
  }

  flush(): void {
    this.#io.sync();
  }

  discard(offset: number, length: number): void {
    this.#io.punchHole(offset, this.#clip(offset, length));
  }

  writeZeroes(offset: number, length: number, unmap: boolean): void {
    const len = this.#clip(offset, length);
    try {
      if (unmap) this.#io.punchHole(offset, len);
      else this.#io.zeroRange(offset, len);
    } catch (e) {
      // A file system without hole punching or zero ranges (EOPNOTSUPP) gets real zeros written, and so does a
      // host block device for a range that is not whole logical blocks (EINVAL).
      const unaligned = this.hostBlockDevice && e instanceof SysError && e.code === "EINVAL";
      if (!unaligned && (!(e instanceof SysError) || e.code !== "EOPNOTSUPP")) throw e;
      const zeros = new Uint8Array(Math.min(len, BOUNCE_SIZE));
      for (let done = 0; done < len; done += zeros.length)
        this.writeAt(zeros.subarray(0, Math.min(zeros.length, len - done)), offset + done);
    }
  }

  allocateAll(): void {
    // A block device's blocks exist already.
    if (!this.hostBlockDevice) this.#io.allocate(0, this.#size);
  }

  resize(size: number): void {
    if (this.readOnly) throw new DiskError(this.path, "is read-only");
    if (this.hostBlockDevice)
      throw new DiskError(
        this.path,
        "is a host block device: its size is the device's and cannot be changed",
      );
    if (!Number.isSafeInteger(size) || size < 0) throw new DiskError(this.path, `size ${size} is not valid`);
    ftruncate(this.#io.fd, size, this.path);
    this.#size = size;
  }

  #clip(offset: number, length: number): number {
    return Math.max(0, Math.min(length, this.#size - offset));
  }

  close(): void {
    this.#io.close();
  }
}
