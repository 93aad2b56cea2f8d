// The *at() file-system calls a file server makes on behalf of a guest (src/devices/virtio/fs/): every one names
// its object relative to a directory descriptor, never by an absolute path. Results are returned, not thrown: a
// negative number is -errno, which the server hands to the guest as is. Names are NUL-terminated byte strings
// (cstr); numbers past 2^53 do not occur (offsets and sizes come bounded from the protocol layer).
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno } from "./libc.ts";

// Calls returning ssize_t/off_t use i64_fast: a number (no BigInt made per call) for every value they return here.
const { i32, u32, i64, i64_fast, u64, ptr: p } = FFIType;

const lib = dlopen("libc.so.6", {
  syscall: { args: [i64, u64, u64, u64, u64, u64, u64], returns: i64_fast },
  statx: { args: [i32, p, i32, u32, p], returns: i32 },
  mkdirat: { args: [i32, p, u32], returns: i32 },
  mknodat: { args: [i32, p, u32, u64], returns: i32 },
  symlinkat: { args: [p, i32, p], returns: i32 },
  readlinkat: { args: [i32, p, p, u64], returns: i64_fast },
  unlinkat: { args: [i32, p, i32], returns: i32 },
  renameat2: { args: [i32, p, i32, p, u32], returns: i32 },
  linkat: { args: [i32, p, i32, p, i32], returns: i32 },
  fchmodat: { args: [i32, p, u32, i32], returns: i32 },
  fchownat: { args: [i32, p, u32, u32, i32], returns: i32 },
  utimensat: { args: [i32, p, p, i32], returns: i32 },
  futimens: { args: [i32, p], returns: i32 },
  ftruncate: { args: [i32, i64], returns: i32 },
  fstatfs: { args: [i32, p], returns: i32 },
  getdents64: { args: [i32, p, u64], returns: i64_fast },
  lseek: { args: [i32, i64, i32], returns: i64_fast },
  fsync: { args: [i32], returns: i32 },
  fdatasync: { args: [i32], returns: i32 },
  fallocate: { args: [i32, i32, i64, i64], returns: i32 },
  copy_file_range: { args: [i32, p, i32, p, u64, u32], returns: i64_fast },
  preadv: { args: [i32, p, i32, i64], returns: i64_fast },
  pwritev: { args: [i32, p, i32, i64], returns: i64_fast },
  close: { args: [i32], returns: i32 },
  fgetxattr: { args: [i32, p, p, u64], returns: i64_fast },
  fsetxattr: { args: [i32, p, p, u64, i32], returns: i32 },
  flistxattr: { args: [i32, p, u64], returns: i64_fast },
  fremovexattr: { args: [i32, p], returns: i32 },
}).symbols;

// include/uapi/linux/fcntl.h and asm-generic/fcntl.h.
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_APPEND = 0o2000;
export const O_TRUNC = 0o1000;
export const O_DIRECT = 0o40000;
export const O_NONBLOCK = 0o4000;
// include/uapi/linux/openat2.h: struct open_how { u64 flags; u64 mode; u64 resolve; } and its resolve flags.
export const OPEN_HOW_SIZE = 24;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
const SYS_OPENAT2 = 437; // arch/x86/entry/syscalls/syscall_64.tbl
// include/uapi/linux/stat.h
export const STATX_BASIC_STATS = 0x7ff;
export const STATX_SIZE = 0x100; // sizeof(struct statx)
/** Offsets in struct statx (include/uapi/linux/stat.h; statx_timestamp is {s64 tv_sec; u32 tv_nsec; s32}). */
export const STATX = {
  blksize: 0x04,
  nlink: 0x10,
  uid: 0x14,
  gid: 0x18,
  mode: 0x1c,
  ino: 0x20,
  size: 0x28,
  blocks: 0x30,
  atime: 0x40,
  ctime: 0x60,
  mtime: 0x70,
  rdevMajor: 0x80,
  rdevMinor: 0x84,
  devMajor: 0x88,
  devMinor: 0x8c,
} as const;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
// include/uapi/linux/fs.h (RENAME_*), include/linux/fcntl.h (SEEK_*).
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;
// lseek whence values for sparse files: one definition, in libc.ts beside seekData.
export { SEEK_DATA, SEEK_HOLE } from "./libc.ts";
// struct statfs (x86-64, bits/statfs.h): f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree (8 bytes
// each), f_fsid (8), f_namelen, f_frsize, f_flags, f_spare[4] (8 each) = 120 bytes.
export const STATFS_SIZE = 120;
export const STATFS = {
  type: 0,
  bsize: 8,
  blocks: 16,
  bfree: 24,
  bavail: 32,
  files: 40,
  ffree: 48,
  fsid: 56,
  namelen: 64,
  frsize: 72,
} as const;

/** `name` as a NUL-terminated byte string. */
export function cstr(name: string | Uint8Array): Uint8Array {
  const bytes = typeof name === "string" ? new TextEncoder().encode(name) : name;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

const EMPTY = new Uint8Array(1);

function r(ret: number | bigint): number {
  const n = Number(ret);
  return n < 0 ? -errno() : n;
}

const how = new BigUint64Array(3);
/** `how` as 32-bit words, so that a call sets its fields without making BigInts (x86-64: low word first). */
const howWords = new Uint32Array(how.buffer);

/** openat2(2): `resolve` is RESOLVE_* bits; returns the fd or -errno. */
export function openat2(
  dirfd: number,
  name: Uint8Array,
  flags: number,
  mode: number,
  resolve: number,
): number {
  howWords[0] = flags >>> 0;
  howWords[1] = 0;
  howWords[2] = mode >>> 0;
  howWords[3] = 0;
  howWords[4] = resolve >>> 0;
  howWords[5] = 0;
  return r(lib.syscall(SYS_OPENAT2, dirfd, Number(ptr(name)), Number(ptr(how)), OPEN_HOW_SIZE, 0, 0));
}

/** statx(2) into `buf` (STATX_SIZE bytes); `name` empty with AT_EMPTY_PATH stats `dirfd` itself. */
export function statx(dirfd: number, name: Uint8Array | null, flags: number, buf: Uint8Array): number {
  return r(lib.statx(dirfd, ptr(name ?? EMPTY), flags, STATX_BASIC_STATS, ptr(buf)));
}

export const mkdirat = (dirfd: number, name: Uint8Array, mode: number) =>
  r(lib.mkdirat(dirfd, ptr(name), mode));
export const mknodat = (dirfd: number, name: Uint8Array, mode: number, dev: number) =>
  r(lib.mknodat(dirfd, ptr(name), mode, dev));
export const symlinkat = (target: Uint8Array, dirfd: number, name: Uint8Array) =>
  r(lib.symlinkat(ptr(target), dirfd, ptr(name)));
/** readlinkat(2) of `dirfd` itself (an O_PATH descriptor of a symlink) into `buf`; returns the length. */
export const readlinkSelf = (fd: number, buf: Uint8Array) =>
  r(lib.readlinkat(fd, ptr(EMPTY), ptr(buf), buf.length));
export const unlinkat = (dirfd: number, name: Uint8Array, flags: number) =>
  r(lib.unlinkat(dirfd, ptr(name), flags));
export const renameat2 = (
  olddir: number,
  oldname: Uint8Array,
  newdir: number,
  newname: Uint8Array,
  flags: number,
) => r(lib.renameat2(olddir, ptr(oldname), newdir, ptr(newname), flags));
export const linkat = (
  olddir: number,
  oldname: Uint8Array,
  newdir: number,
  newname: Uint8Array,
  flags: number,
) => r(lib.linkat(olddir, ptr(oldname), newdir, ptr(newname), flags));
export const fchmodat = (dirfd: number, name: Uint8Array, mode: number) =>
  r(lib.fchmodat(dirfd, ptr(name), mode, 0));
export const fchownat = (dirfd: number, name: Uint8Array | null, uid: number, gid: number, flags: number) =>
  r(lib.fchownat(dirfd, ptr(name ?? EMPTY), uid >>> 0, gid >>> 0, flags));
/** utimensat(2); `times` is two struct timespec (s64 sec, s64 nsec; UTIME_NOW / UTIME_OMIT in nsec). */
export const utimensat = (dirfd: number, name: Uint8Array, times: BigInt64Array, flags: number) =>
  r(lib.utimensat(dirfd, ptr(name), ptr(times), flags));
export const futimens = (fd: number, times: BigInt64Array) => r(lib.futimens(fd, ptr(times)));
export const UTIME_NOW = (1n << 30n) - 1n;
export const UTIME_OMIT = (1n << 30n) - 2n;
export const ftruncate = (fd: number, size: number) => r(lib.ftruncate(fd, size));
export const fstatfs = (fd: number, buf: Uint8Array) => r(lib.fstatfs(fd, ptr(buf)));
export const getdents64 = (fd: number, buf: Uint8Array) => r(lib.getdents64(fd, ptr(buf), buf.length));
export const lseek = (fd: number, offset: number | bigint, whence: number) =>
  r(lib.lseek(fd, offset, whence));
export const fsync = (fd: number) => r(lib.fsync(fd));
export const fdatasync = (fd: number) => r(lib.fdatasync(fd));
export const fallocate = (fd: number, mode: number, offset: number, length: number) =>
  r(lib.fallocate(fd, mode, offset, length));
const offIn = new BigInt64Array(1);
const offOut = new BigInt64Array(1);
export function copyFileRange(fdIn: number, at: number, fdOut: number, to: number, len: number): number {
  offIn[0] = BigInt(at);
  offOut[0] = BigInt(to);
  return r(lib.copy_file_range(fdIn, ptr(offIn), fdOut, ptr(offOut), len, 0));
}
/** preadv(2) over `count` iovecs already at `iov` (struct iovec: u64 base, u64 len). */
export const preadv = (fd: number, iov: Uint32Array, count: number, offset: number) =>
  r(lib.preadv(fd, ptr(iov), count, offset));
export const pwritev = (fd: number, iov: Uint32Array, count: number, offset: number) =>
  r(lib.pwritev(fd, ptr(iov), count, offset));
export const closeFd = (fd: number) => r(lib.close(fd));
// The xattr calls on a real (not O_PATH) descriptor: the f*xattr calls refuse O_PATH descriptors.
export const fgetxattr = (fd: number, name: Uint8Array, buf: Uint8Array) =>
  r(lib.fgetxattr(fd, ptr(name), buf.length ? ptr(buf) : null, buf.length));
export const fsetxattr = (fd: number, name: Uint8Array, value: Uint8Array, flags: number) =>
  r(lib.fsetxattr(fd, ptr(name), value.length ? ptr(value) : null, value.length, flags));
export const flistxattr = (fd: number, buf: Uint8Array) =>
  r(lib.flistxattr(fd, buf.length ? ptr(buf) : null, buf.length));
export const fremovexattr = (fd: number, name: Uint8Array) => r(lib.fremovexattr(fd, ptr(name)));
