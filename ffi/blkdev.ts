// Host block device queries (include/uapi/linux/fs.h): a partition, an LVM volume or a loop device given as a
// disk has no meaningful st_size, so its size and logical block size come from these ioctls.
import { ioctl } from "./libc.ts";

/** BLKSSZGET = _IO(0x12, 104): the logical block size, an int. */
export const BLKSSZGET = 0x1268;
/** BLKGETSIZE64 = _IOR(0x12, 114, size_t): the size in bytes, a u64. */
export const BLKGETSIZE64 = 0x8008_1272;

/** The size in bytes of the block device open on `fd`. */
export function blockDeviceSize(fd: number, what: string): number {
  const out = new BigUint64Array(1);
  ioctl(fd, BLKGETSIZE64, out, "BLKGETSIZE64", what);
  return Number(out[0]!);
}

/** The logical block size (the smallest unit the device transfers) of the block device open on `fd`. */
export function logicalBlockSize(fd: number, what: string): number {
  const out = new Int32Array(1);
  ioctl(fd, BLKSSZGET, out, "BLKSSZGET", what);
  return out[0]!;
}
