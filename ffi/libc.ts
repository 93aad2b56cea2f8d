// Typed bindings over glibc through bun:ffi. Every wrapper turns a -1 return into a SysError that names the call,
// the object it acted on and errno's symbolic name, e.g. "KVM_CREATE_VM on /dev/kvm failed: EACCES".
import { dlopen, FFIType, ptr, read as readPtr, toArrayBuffer, type Pointer } from "bun:ffi";
import { errnoName } from "./errno.ts";

const lib = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: FFIType.ptr },
  open: { args: [FFIType.cstring, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  mmap: {
    args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64],
    returns: FFIType.ptr,
  },
  munmap: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  memfd_create: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  ftruncate: { args: [FFIType.i32, FFIType.i64], returns: FFIType.i32 },
  fallocate: { args: [FFIType.i32, FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
  fsync: { args: [FFIType.i32], returns: FFIType.i32 },
  fdatasync: { args: [FFIType.i32], returns: FFIType.i32 },
  eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  pread: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i64], returns: FFIType.i64 },
  pwrite: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i64], returns: FFIType.i64 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.u64], returns: FFIType.i32 },
  dup: { args: [FFIType.i32], returns: FFIType.i32 },
  dup3: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
  epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  prctl: {
    args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
    returns: FFIType.i32,
  },
  syscall: {
    args: [FFIType.i64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
    returns: FFIType.i64,
  },
  getpid: { args: [], returns: FFIType.i32 },
  gettid: { args: [], returns: FFIType.i32 },
  isatty: { args: [FFIType.i32], returns: FFIType.i32 },
});

const c = lib.symbols;

/** A failed system call: `${call} on ${object} failed: ${errnoName}`. */
export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly object: string,
    readonly errno: number,
  ) {
    super(`${call} on ${object} failed: ${errnoName(errno)}`);
    this.name = "SysError";
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

/** errno of the calling thread; read right after the failing call, before any other libc call. */
export function errno(): number {
  return readPtr.i32(c.__errno_location()!, 0);
}

function check(ret: number, call: string, object: string): number {
  if (ret < 0) throw new SysError(call, object, errno());
  return ret;
}

function checkBig(ret: number | bigint, call: string, object: string): number {
  const n = Number(ret);
  if (n < 0) throw new SysError(call, object, errno());
  return n;
}

// open(2) flags and modes, from include/uapi/asm-generic/fcntl.h.
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECT = 0o40000;
export const O_CLOEXEC = 0o2000000;
// fcntl(2) commands.
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const FD_CLOEXEC = 1;
// mmap(2), from include/uapi/asm-generic/mman-common.h and mman.h.
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
// memfd_create(2), include/uapi/linux/memfd.h.
export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;
// eventfd(2), include/uapi/linux/eventfd.h (EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK).
export const EFD_SEMAPHORE = 1;
export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;
// fallocate(2), include/uapi/linux/falloc.h.
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;
// epoll(7), include/uapi/linux/eventpoll.h.
export const EPOLL_CLOEXEC = O_CLOEXEC;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;

export function open(path: string, flags: number, mode = 0o644): number {
  return check(c.open(Buffer.from(`${path}\0`), flags, mode), "open", path);
}

export function close(fd: number): void {
  check(c.close(fd), "close", `fd ${fd}`);
}

/**
 * ioctl(2). `arg` is either a buffer passed by address or a plain integer argument.
 * `name` and `object` only serve the error message.
 */
export function ioctl(
  fd: number,
  request: number,
  arg: NodeJS.TypedArray | number,
  name: string,
  object: string,
): number {
  const p = typeof arg === "number" ? (arg as unknown as Pointer) : ptr(arg);
  return check(c.ioctl(fd, request, p), name, object);
}

/** ioctl returning -errno instead of throwing, for hot paths that treat EINTR/EAGAIN as normal. */
export function ioctlRaw(fd: number, request: number, arg: NodeJS.TypedArray | number): number {
  const p = typeof arg === "number" ? (arg as unknown as Pointer) : ptr(arg);
  const ret = c.ioctl(fd, request, p);
  return ret < 0 ? -errno() : ret;
}

/** mmap(2); returns the address as a number. */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
  what: string,
): number {
  const addr = Number(c.mmap(null, length, prot, flags, fd, offset));
  // MAP_FAILED is (void*)-1; bun:ffi returns pointers as numbers, so -1 arrives as 2^64-1 rounded or as null.
  if (!addr || addr === -1 || addr >= 2 ** 63) throw new SysError("mmap", what, errno());
  return addr;
}

export function munmap(addr: number, length: number, what: string): void {
  check(c.munmap(addr as unknown as Pointer, length), "munmap", what);
}

/** A view of `length` bytes of native memory at `addr` (no copy). */
export function viewOf(addr: number, length: number): Uint8Array {
  return new Uint8Array(toArrayBuffer(addr as unknown as Pointer, 0, length));
}

export function memfdCreate(name: string, flags: number): number {
  return check(c.memfd_create(Buffer.from(`${name}\0`), flags), "memfd_create", name);
}

export function ftruncate(fd: number, length: number, what: string): void {
  check(c.ftruncate(fd, length), "ftruncate", what);
}

export function fallocate(fd: number, mode: number, offset: number, length: number, what: string): void {
  check(c.fallocate(fd, mode, offset, length), "fallocate", what);
}

export function fsync(fd: number, what: string): void {
  check(c.fsync(fd), "fsync", what);
}

export function fdatasync(fd: number, what: string): void {
  check(c.fdatasync(fd), "fdatasync", what);
}

export function eventfd(initval: number, flags: number): number {
  return check(c.eventfd(initval, flags), "eventfd", "a new eventfd");
}

const eventfdBuf = new BigUint64Array(1);

/** Adds `value` to an eventfd's counter (signals it). */
export function eventfdWrite(fd: number, value = 1n): void {
  eventfdBuf[0] = value;
  checkBig(c.write(fd, ptr(eventfdBuf), 8), "write", `eventfd ${fd}`);
}

/** Reads and resets an eventfd's counter; returns 0n for a non-blocking eventfd that was not signalled. */
export function eventfdRead(fd: number): bigint {
  const ret = Number(c.read(fd, ptr(eventfdBuf), 8));
  if (ret < 0) {
    const e = errno();
    if (e === 11 /* EAGAIN */) return 0n;
    throw new SysError("read", `eventfd ${fd}`, e);
  }
  return eventfdBuf[0]!;
}

export function read(fd: number, buf: Uint8Array, what = `fd ${fd}`): number {
  if (buf.length === 0) return 0;
  return checkBig(c.read(fd, ptr(buf), buf.length), "read", what);
}

export function write(fd: number, buf: Uint8Array, what = `fd ${fd}`): number {
  if (buf.length === 0) return 0;
  return checkBig(c.write(fd, ptr(buf), buf.length), "write", what);
}

/** Writes the whole buffer, retrying short writes and EINTR/EAGAIN. */
export function writeAll(fd: number, buf: Uint8Array, what = `fd ${fd}`): void {
  let done = 0;
  while (done < buf.length) {
    const ret = Number(c.write(fd, ptr(buf, done), buf.length - done));
    if (ret < 0) {
      const e = errno();
      if (e === 4 /* EINTR */ || e === 11 /* EAGAIN */) continue;
      throw new SysError("write", what, e);
    }
    done += ret;
  }
}

export function pread(fd: number, buf: Uint8Array, offset: number, what = `fd ${fd}`): number {
  if (buf.length === 0) return 0;
  return checkBig(c.pread(fd, ptr(buf), buf.length, offset), "pread", what);
}

export function pwrite(fd: number, buf: Uint8Array, offset: number, what = `fd ${fd}`): number {
  if (buf.length === 0) return 0;
  return checkBig(c.pwrite(fd, ptr(buf), buf.length, offset), "pwrite", what);
}

export function fcntl(fd: number, cmd: number, arg: number, what = `fd ${fd}`): number {
  return check(c.fcntl(fd, cmd, arg), "fcntl", what);
}

export function dup(fd: number): number {
  return check(c.dup(fd), "dup", `fd ${fd}`);
}

export function dup3(oldfd: number, newfd: number, flags: number): number {
  return check(c.dup3(oldfd, newfd, flags), "dup3", `fd ${oldfd} -> ${newfd}`);
}

/** pipe2(2): returns [readEnd, writeEnd]. */
export function pipe2(flags: number): [number, number] {
  const fds = new Int32Array(2);
  check(c.pipe2(ptr(fds), flags), "pipe2", "a new pipe");
  return [fds[0]!, fds[1]!];
}

export function epollCreate(): number {
  return check(c.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", "a new epoll instance");
}

// struct epoll_event is packed on x86-64: u32 events at 0, u64 data at 4 (12 bytes).
export const EPOLL_EVENT_SIZE = 12;

export function epollCtl(epfd: number, op: number, fd: number, events: number, token: number): void {
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  const dv = new DataView(ev.buffer);
  dv.setUint32(0, events, true);
  dv.setBigUint64(4, BigInt(token), true);
  check(c.epoll_ctl(epfd, op, fd, ptr(ev)), "epoll_ctl", `fd ${fd}`);
}

/** Waits for events; returns [{events, token}] (token = the u64 data field given to epollCtl). */
export function epollWait(
  epfd: number,
  maxEvents: number,
  timeoutMs: number,
): { events: number; token: number }[] {
  const buf = new Uint8Array(EPOLL_EVENT_SIZE * maxEvents);
  const ret = c.epoll_wait(epfd, ptr(buf), maxEvents, timeoutMs);
  if (ret < 0) {
    const e = errno();
    if (e === 4 /* EINTR */) return [];
    throw new SysError("epoll_wait", `epoll fd ${epfd}`, e);
  }
  const dv = new DataView(buf.buffer);
  const out: { events: number; token: number }[] = [];
  for (let i = 0; i < ret; i++) {
    out.push({
      events: dv.getUint32(i * EPOLL_EVENT_SIZE, true),
      token: Number(dv.getBigUint64(i * EPOLL_EVENT_SIZE + 4, true)),
    });
  }
  return out;
}

export function prctl(
  option: number,
  arg2: number,
  arg3 = 0,
  arg4 = 0,
  arg5 = 0,
  what = `option ${option}`,
): number {
  return check(c.prctl(option, arg2, arg3, arg4, arg5), "prctl", what);
}

/** syscall(2); arguments are plain integers or buffers (passed by address). */
export function syscall(nr: number, name: string, ...args: (number | NodeJS.TypedArray)[]): number {
  const a = args.map((x) => (typeof x === "number" ? x : Number(ptr(x))));
  while (a.length < 6) a.push(0);
  return checkBig(c.syscall(nr, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!), name, "syscall");
}

export function getpid(): number {
  return c.getpid();
}

export function gettid(): number {
  return c.gettid();
}

export function isatty(fd: number): boolean {
  return c.isatty(fd) === 1;
}

/** Address of a typed array's first byte, for structs that embed pointers (kvm_cpuid2 is inline, seccomp's sock_fprog is not). */
export function addressOf(buf: NodeJS.TypedArray): number {
  return Number(ptr(buf));
}
