// Opens a disk image for the block device: detects the format from the first bytes (qcow2 magic, else raw),
// opens qcow2 backing files read-only (relative names resolve against the image's directory), and turns every
// problem into one DiskError line naming the file.
import { dirname, isAbsolute, resolve } from "node:path";
import { O_CLOEXEC, O_DIRECT, O_RDONLY, O_RDWR, SysError, open, pread } from "../../ffi/libc.ts";
import { DiskError, type DiskFile } from "./disk_file.ts";
import { QCOW2_MAGIC, parseQcow2Header } from "./qcow2/header.ts";
import { Qcow2Disk } from "./qcow2/qcow2.ts";
import { FileIo, RawDisk } from "./raw.ts";

export interface OpenDiskOptions {
  readonly readOnly?: boolean;
  /** O_DIRECT (raw images only, as crosvm documents for o_direct). */
  readonly direct?: boolean;
  /** "raw" or "qcow2" to skip detection (a qcow2 backing-format extension does this). */
  readonly format?: string;
}

/** How deep a chain of backing files may go. */
export const MAX_BACKING_DEPTH = 16;

function openFd(path: string, flags: number): number {
  try {
    return open(path, flags | O_CLOEXEC);
  } catch (e) {
    if (e instanceof SysError) throw new DiskError(path, `cannot open: ${e.code}`);
    throw e;
  }
}

/** "qcow2" when the file starts with the qcow2 magic, else "raw". */
export function detectFormat(fd: number, path: string): "raw" | "qcow2" {
  const head = new Uint8Array(4);
  const n = pread(fd, head, 0, path);
  return n === 4 && new DataView(head.buffer).getUint32(0) === QCOW2_MAGIC ? "qcow2" : "raw";
}

export function openDisk(path: string, options: OpenDiskOptions = {}, depth = 0): DiskFile {
  if (depth > MAX_BACKING_DEPTH)
    throw new DiskError(path, `backing file chain is deeper than ${MAX_BACKING_DEPTH}`);
  const readOnly = options.readOnly ?? false;
  const access = readOnly ? O_RDONLY : O_RDWR;
  const fd = openFd(path, access);
  const io = new FileIo(fd, path);
  let format: string;
  try {
    format = options.format ?? detectFormat(fd, path);
  } catch (e) {
    io.close();
    throw wrap(path, e);
  }
  if (format === "raw" && options.direct) {
    // O_DIRECT goes on a second descriptor, so that detection did not need aligned buffers.
    io.close();
    const dfd = openFd(path, access | O_DIRECT);
    return withFd(new FileIo(dfd, path), () => new RawDisk(dfd, path, readOnly, true));
  }
  return withFd(io, () => {
    if (format === "raw") return new RawDisk(fd, path, readOnly, false);
    if (format !== "qcow2") throw new DiskError(path, `unknown image format "${format}"`);
    if (options.direct) throw new DiskError(path, "O_DIRECT is only supported for raw images");
    if (detectFormat(fd, path) !== "qcow2") throw new DiskError(path, "not a qcow2 image (bad magic)");
    const size = io.size();
    const first = new Uint8Array(Math.min(size, 2 ** 21));
    io.readFull(first, 0);
    const clusterBits = first.length >= 24 ? new DataView(first.buffer).getUint32(20) : 0;
    const headerBytes = first.subarray(
      0,
      Math.min(first.length, 2 ** Math.min(Math.max(clusterBits, 9), 21)),
    );
    const header = parseQcow2Header(headerBytes, path, size);
    let backing: DiskFile | undefined;
    if (header.backingFile) {
      const name = header.backingFile;
      const backingPath = isAbsolute(name) ? name : resolve(dirname(path), name);
      try {
        backing = openDisk(backingPath, { readOnly: true, format: header.backingFormat }, depth + 1);
      } catch (e) {
        throw new DiskError(path, `backing file: ${(e as Error).message}`);
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
  if (e instanceof SysError) return new DiskError(path, `${e.call} failed: ${e.code}`);
  return e as Error;
}
