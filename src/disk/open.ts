// Opens a disk image for the block device and turns every problem into one DiskError naming the file.
//
// Format: given (a qcow2 backing-format extension, or a caller that knows), else detected from the first bytes
// (probe.ts). A detected raw image is opened "probed": the guest may not write a sector 0 that would detect as
// another format, so a raw disk stays raw across restarts.
//
// Backing files (qcow2 only; docs/architecture.md "Disk images"): the name in the header is used as written when
// absolute, else resolved against the directory of the image that names it (as QEMU does), never against the
// working directory. Each is opened read-only, must be a regular file, takes a shared lock when locking is on,
// and may not appear twice in one chain (a cycle, compared by device and inode); a chain holds at most
// MAX_BACKING_DEPTH backing files.
import { fstatSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { LOCK_EX, LOCK_NB, LOCK_SH, flock, strerror } from "../../ffi/file_lock.ts";
import { O_CLOEXEC, O_DIRECT, O_RDONLY, O_RDWR, SysError, open, pread } from "../../ffi/libc.ts";
import { DiskError, type DiskFile } from "./disk_file.ts";
import { PROBE_BYTES, probeFormat } from "./probe.ts";
import { parseQcow2Header } from "./qcow2/header.ts";
import { Qcow2Disk } from "./qcow2/qcow2.ts";
import { FileIo, RawDisk } from "./raw.ts";

export interface OpenDiskOptions {
  readonly readOnly?: boolean;
  /** O_DIRECT (raw images only, as crosvm documents for o_direct). */
  readonly direct?: boolean;
  /** "raw" or "qcow2" to skip detection (a qcow2 backing-format extension does this). */
  readonly format?: string;
  /**
   * flock the image (LOCK_EX when writable, LOCK_SH when read-only) and its backing files (LOCK_SH), failing at
   * once when another holder conflicts: crosvm's `lock` key of --block. Off unless asked.
   */
  readonly lock?: boolean;
}

/** How deep a chain of backing files may go. */
export const MAX_BACKING_DEPTH = 16;

/** Another process (or another --block of this VM) holds a conflicting lock on the image. */
export class DiskLockedError extends DiskError {
  constructor(path: string, exclusive: boolean) {
    super(
      path,
      exclusive
        ? "is locked by another user of the image (a VM or another --block has it open); give lock=false only if sharing it is intended"
        : "is locked for writing by another user of the image (a VM or another --block); give lock=false only if sharing it is intended",
    );
    this.name = "DiskLockedError";
  }
}

export function openFd(path: string, flags: number): number {
  try {
    return open(path, flags | O_CLOEXEC);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    // A file that exists but may not be written: say so, and how to use it anyway.
    if ((flags & O_RDWR) !== 0 && (e.code === "EACCES" || e.code === "EROFS" || e.code === "EPERM"))
      throw new DiskError(path, `cannot open for writing: ${describeErrno(e)} (add ro to use it read-only)`);
    throw new DiskError(path, `cannot open: ${describeErrno(e)}`);
  }
}

/** "No such file or directory" for ENOENT, as the shell says it. */
export function describeErrno(e: SysError): string {
  return strerror(e.errno);
}

/** File systems whose flock fails this way cannot lock at all: the image is used unlocked (QEMU's locking=auto). */
const LOCKING_UNSUPPORTED = new Set(["ENOLCK", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EINVAL"]);

export function lockFd(fd: number, path: string, exclusive: boolean): void {
  try {
    flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB, path);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.code === "EAGAIN" || e.code === "EWOULDBLOCK") throw new DiskLockedError(path, exclusive);
    if (!LOCKING_UNSUPPORTED.has(e.code)) throw e;
  }
}

/** The format of the image open on `fd`, from its first bytes. */
export function detectFormat(fd: number, path: string): "raw" | "qcow2" {
  const head = new Uint8Array(PROBE_BYTES);
  const n = pread(fd, head, 0, path);
  return probeFormat(head.subarray(0, n));
}

/** The files of one chain so far (device:inode), to refuse cycles. */
type ChainSeen = Set<string>;

export function openDisk(path: string, options: OpenDiskOptions = {}): DiskFile {
  return openLevel(path, options, 0, new Set());
}

function openLevel(path: string, options: OpenDiskOptions, depth: number, seen: ChainSeen): DiskFile {
  const readOnly = options.readOnly ?? false;
  const access = readOnly ? O_RDONLY : O_RDWR;
  const fd = openFd(path, access);
  const io = new FileIo(fd, path);
  let format: string;
  try {
    const st = fstatSync(fd);
    // A backing file must be a plain file: not a host block device, a FIFO or a character device.
    if (depth > 0 && !st.isFile()) throw new DiskError(path, "is not a regular file (backing files must be)");
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) throw new DiskError(path, "backing file chain has a cycle (the file appears twice)");
    seen.add(id);
    if (options.lock) lockFd(fd, path, !readOnly);
    format = options.format ?? detectFormat(fd, path);
  } catch (e) {
    io.close();
    throw wrap(path, e);
  }
  const probed = options.format === undefined;
  if (format === "raw" && options.direct) {
    // O_DIRECT goes on a second descriptor, so that detection did not need aligned buffers.
    io.close();
    const dfd = openFd(path, access | O_DIRECT);
    return withFd(new FileIo(dfd, path), () => {
      if (options.lock) lockFd(dfd, path, !readOnly);
      return new RawDisk(dfd, path, readOnly, true, probed);
    });
  }
  return withFd(io, () => {
    if (format === "raw") return new RawDisk(fd, path, readOnly, false, probed);
    if (format !== "qcow2") throw new DiskError(path, `unknown image format "${format}"`);
    if (options.direct) throw new DiskError(path, "O_DIRECT is only supported for raw images");
    if (detectFormat(fd, path) !== "qcow2") throw new DiskError(path, "not a qcow2 image (bad magic)");
    const size = io.size();
    // The header cluster (extensions and the backing file name live in it), read once its size is known.
    const fixed = new Uint8Array(Math.min(size, 24));
    io.readFull(fixed, 0);
    const clusterBits = fixed.length === 24 ? new DataView(fixed.buffer).getUint32(20) : 0;
    const headerBytes = new Uint8Array(Math.min(size, 2 ** Math.min(Math.max(clusterBits, 9), 21)));
    io.readFull(headerBytes, 0);
    const header = parseQcow2Header(headerBytes, path, size);
    let backing: DiskFile | undefined;
    if (header.backingFile) {
      const name = header.backingFile;
      const backingPath = backingFilePath(path, name);
      if (depth + 1 > MAX_BACKING_DEPTH)
        throw new DiskError(path, `backing file chain is deeper than ${MAX_BACKING_DEPTH}`);
      try {
        backing = openLevel(
          backingPath,
          { readOnly: true, format: header.backingFormat, lock: options.lock },
          depth + 1,
          seen,
        );
      } catch (e) {
        if (e instanceof DiskError) throw new DiskError(path, `backing file ${e.path}: ${e.problem}`);
        throw e;
      }
    }
    try {
      return new Qcow2Disk(io, header, readOnly, backing);
    } catch (e) {
      backing?.close();
      throw e;
    }
  });
}

/** Where the backing file named `name` in the header of `image` is: absolute as written, else next to `image`. */
export function backingFilePath(image: string, name: string): string {
  return isAbsolute(name) ? name : resolve(dirname(image), name);
}

/** Runs `make`; on failure closes `io` (exactly once) and rethrows as a DiskError. */
function withFd(io: FileIo, make: () => DiskFile): DiskFile {
  try {
    return make();
  } catch (e) {
    io.close();
    throw wrap(io.path, e);
  }
}

function wrap(path: string, e: unknown): Error {
  if (e instanceof DiskError) return e;
  if (e instanceof SysError) return new DiskError(path, `${e.call} failed: ${describeErrno(e)}`);
  return e as Error;
}
