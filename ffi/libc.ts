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
  madvise: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  lseek: { args: [FFIType.i32, FFIType.i64, FFIType.i32], returns: FFIType.i64 },
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
// File sealing (memfd_create(2) "File sealing", include/uapi/linux/fcntl.h: F_LINUX_SPECIFIC_BASE 1024 + 9/10).
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const F_SEAL_SEAL = 0x0001;
export const F_SEAL_SHRINK = 0x0002;
export const F_SEAL_GROW = 0x0004;
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
/** Report the fd once, then disable it until re-armed with EPOLL_CTL_MOD. */
export const EPOLLONESHOT = 0x40000000;

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

/** mmap(2) with MAP_FIXED at `addr` (inside a reservation of the caller's): replaces what was mapped there. */
export function mmapFixed(
  addr: number,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
  what: string,
): void {
  const got = Number(c.mmap(addr as unknown as Pointer, length, prot, flags | MAP_FIXED, fd, offset));
  if (got !== addr) throw new SysError("mmap", what, errno());
}

export function munmap(addr: number, length: number, what: string): void {
  check(c.munmap(addr as unknown as Pointer, length), "munmap", what);
}

// madvise(2) advice, include/uapi/asm-generic/mman-common.h.
export const MADV_HUGEPAGE = 14;
/** Collapse the range into transparent huge pages now, whatever the THP sysfs settings (Linux 6.1+). */
export const MADV_COLLAPSE = 25;
/** Fault the range in writable now (Linux 5.14+): allocates its pages as a first write would. */
export const MADV_POPULATE_WRITE = 23;

export function madvise(addr: number, length: number, advice: number, what: string): void {
  check(c.madvise(addr as unknown as Pointer, length, advice), "madvise", what);
}

/** madvise(2) returning 0 or -errno instead of throwing (for advice whose failure is an expected outcome). */
export function madviseRaw(addr: number, length: number, advice: number): number {
  return c.madvise(addr as unknown as Pointer, length, advice) < 0 ? -errno() : 0;
}

// lseek(2) whence values for sparse files, include/uapi/linux/fs.h.
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/**
 * lseek(fd, offset, SEEK_DATA): the first offset at or after `offset` holding data (a page in a memfd's page
 * cache), or undefined when there is none (ENXIO); other failures throw.
 */
export function seekData(fd: number, offset: number, what: string): number | undefined {
  const ret = Number(c.lseek(fd, offset, SEEK_DATA));
  if (ret >= 0) return ret;
  const e = errno();
  if (e === 6 /* ENXIO */) return undefined;
  throw new SysError("lseek(SEEK_DATA)", what, e);
}

/** The most bytes one ArrayBuffer can view in JavaScriptCore (Bun 1.4.5: 4 GiB works, 4 GiB + 1 page fails). */
export const MAX_NATIVE_VIEW = 2 ** 32;

/** A view of `length` bytes (at most MAX_NATIVE_VIEW) of native memory at `addr` (no copy). */
export function viewOf(addr: number, length: number): Uint8Array {
  // Past the limit JavaScriptCore says "Out of memory", which names neither the cause nor the size.
  if (length > MAX_NATIVE_VIEW)
    throw new RangeError(`cannot view ${length} bytes of native memory as one ArrayBuffer (at most 4 GiB)`);
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

// ---- Unix sockets and terminal attributes (serial backends and the console's raw mode). ----

const sockTerm = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  tcgetattr: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  tcsetattr: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

// socket(2) domains and types, from include/linux/socket.h and include/linux/net.h (SOCK_CLOEXEC = O_CLOEXEC).
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = O_CLOEXEC;
// struct sockaddr_un, include/uapi/linux/un.h: sa_family_t (u16) sun_family at 0, char sun_path[108] at 2.
export const UNIX_PATH_MAX = 108;
export const SOCKADDR_UN_SIZE = 2 + UNIX_PATH_MAX;

export function socket(domain: number, type: number, protocol: number, what: string): number {
  return check(sockTerm.socket(domain, type, protocol), "socket", what);
}

/** Encodes a sockaddr_un for `path`; refuses a path that does not fit sun_path with its NUL. */
export function sockaddrUn(path: string): Uint8Array {
  const bytes = Buffer.from(path);
  if (bytes.length === 0 || bytes.length >= UNIX_PATH_MAX)
    throw new Error(`unix socket path "${path}": expected 1 to ${UNIX_PATH_MAX - 1} bytes`);
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return addr;
}

export function bind(fd: number, addr: Uint8Array, what: string): void {
  check(sockTerm.bind(fd, ptr(addr), addr.length), "bind", what);
}

export function connect(fd: number, addr: Uint8Array, what: string): void {
  check(sockTerm.connect(fd, ptr(addr), addr.length), "connect", what);
}

// struct termios as glibc lays it out on x86-64 (sysdeps/unix/sysv/linux/bits/termios-struct.h): tcflag_t (u32)
// c_iflag 0, c_oflag 4, c_cflag 8, c_lflag 12; cc_t c_line 16; cc_t c_cc[32] 17; speed_t c_ispeed 52, c_ospeed 56.
export const TERMIOS_SIZE = 60;
export const TERMIOS_LFLAG_OFFSET = 12;
// c_lflag bits and tcsetattr actions, include/uapi/asm-generic/termbits.h.
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;
export const TCSANOW = 0;

/** tcgetattr(3): the terminal attributes of `fd` as a struct termios. */
export function tcgetattr(fd: number, what = `fd ${fd}`): Uint8Array {
  const t = new Uint8Array(TERMIOS_SIZE);
  check(sockTerm.tcgetattr(fd, ptr(t)), "tcgetattr", what);
  return t;
}

export function tcsetattr(fd: number, action: number, termios: Uint8Array, what = `fd ${fd}`): void {
  if (termios.length < TERMIOS_SIZE)
    throw new Error(`tcsetattr on ${what}: termios is ${termios.length} bytes`);
  check(sockTerm.tcsetattr(fd, action, ptr(termios)), "tcsetattr", what);
}

// ---------------------------------------------------------------------------------------------------------------
// Unix-domain socket servers (the control socket, src/vm_control/); socket/bind/connect/sockaddrUn are above.
// Calls on non-blocking sockets return `null` for EAGAIN instead of throwing; EINTR is retried.

const sockLib = dlopen("libc.so.6", {
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  accept4: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  fchmod: { args: [FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  chmod: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  unlink: { args: [FFIType.cstring], returns: FFIType.i32 },
});
const sc = sockLib.symbols;

// More socket types, from include/linux/net.h (enum sock_type; SOCK_NONBLOCK = O_NONBLOCK).
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = O_NONBLOCK;
// send/recv flags, include/linux/socket.h.
export const MSG_PEEK = 0x2;
export const MSG_TRUNC = 0x20;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
// poll(2) events, include/uapi/asm-generic/poll.h.
export const POLLIN = 0x001;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
// struct pollfd (include/uapi/asm-generic/poll.h): i32 fd at 0, i16 events at 4, i16 revents at 6.
export const POLLFD_SIZE = 8;

export function listen(fd: number, backlog: number, what = `fd ${fd}`): void {
  check(sc.listen(fd, backlog), "listen", what);
}

/** accept4(2) without the peer address; `null` when no connection is pending on a non-blocking socket. */
export function accept4(fd: number, flags: number, what = `fd ${fd}`): number | null {
  for (;;) {
    const ret = sc.accept4(fd, null, null, flags);
    if (ret >= 0) return ret;
    const e = errno();
    if (e === 4 /* EINTR */) continue;
    if (e === 11 /* EAGAIN */) return null;
    throw new SysError("accept4", what, e);
  }
}

/** send(2); returns the bytes sent (an empty packet is sent too), or `null` for EAGAIN. */
export function send(fd: number, buf: Uint8Array, flags: number, what = `fd ${fd}`): number | null {
  const p = ptr(buf.length === 0 ? new Uint8Array(1) : buf);
  for (;;) {
    const ret = Number(sc.send(fd, p, buf.length, flags));
    if (ret >= 0) return ret;
    const e = errno();
    if (e === 4 /* EINTR */) continue;
    if (e === 11 /* EAGAIN */) return null;
    throw new SysError("send", what, e);
  }
}

/**
 * recv(2); returns the byte count, or `null` for EAGAIN. With MSG_TRUNC a datagram/seqpacket socket returns the
 * packet's real length even when it was longer than `buf` (the excess is discarded).
 */
export function recv(fd: number, buf: Uint8Array, flags: number, what = `fd ${fd}`): number | null {
  for (;;) {
    const ret = Number(sc.recv(fd, buf.length === 0 ? null : ptr(buf), buf.length, flags));
    if (ret >= 0) return ret;
    const e = errno();
    if (e === 4 /* EINTR */) continue;
    if (e === 11 /* EAGAIN */) return null;
    throw new SysError("recv", what, e);
  }
}

/** poll(2) over `fds`; returns each fd's revents in the same order (all zero on timeout or EINTR). */
export function poll(fds: readonly { fd: number; events: number }[], timeoutMs: number): number[] {
  const buf = new Uint8Array(POLLFD_SIZE * Math.max(fds.length, 1));
  const dv = new DataView(buf.buffer);
  fds.forEach(({ fd, events }, i) => {
    dv.setInt32(i * POLLFD_SIZE, fd, true);
    dv.setInt16(i * POLLFD_SIZE + 4, events, true);
  });
  const ret = sc.poll(ptr(buf), fds.length, timeoutMs);
  if (ret < 0) {
    const e = errno();
    if (e !== 4 /* EINTR */) throw new SysError("poll", `${fds.length} fds`, e);
  }
  return fds.map((_, i) => (ret > 0 ? dv.getUint16(i * POLLFD_SIZE + 6, true) : 0));
}

export function fchmod(fd: number, mode: number, what = `fd ${fd}`): void {
  check(sc.fchmod(fd, mode), "fchmod", what);
}

export function chmod(path: string, mode: number): void {
  check(sc.chmod(Buffer.from(`${path}\0`), mode), "chmod", path);
}

export function unlink(path: string): void {
  check(sc.unlink(Buffer.from(`${path}\0`)), "unlink", path);
}

// ---------------------------------------------------------------------------------------------------------------
// socketpair(2), for the channel between the VMM and a device process (src/jail/device_process/).

const pairLib = dlopen("libc.so.6", {
  socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
}).symbols;

/** socketpair(2): returns both ends, e.g. socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, "...") . */
export function socketpair(domain: number, type: number, protocol: number, what: string): [number, number] {
  const fds = new Int32Array(2);
  check(pairLib.socketpair(domain, type, protocol, ptr(fds)), "socketpair", what);
  return [fds[0]!, fds[1]!];
}

// ---------------------------------------------------------------------------------------------------------------
// Allocation-free variants for hot loops (a device process's poll loop and its disk I/O): the pollfd array and
// the call results live in buffers reused across calls, and return values come back as plain numbers.

const hotLib = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  preadv: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i64], returns: FFIType.i64_fast },
  pwritev: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i64], returns: FFIType.i64_fast },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
}).symbols;

/**
 * A reusable struct pollfd array (include/uapi/asm-generic/poll.h: i32 fd, i16 events, i16 revents): `set` fills
 * it (growing only when more fds are needed), `wait` polls, `revents(i)` reads each result.
 */
export class PollSet {
  // The kernel writes revents behind an FFI call, which JSC's optimizing tiers do not know about: with the
  // address cached once and revents read through the array `add` stores into, a load was served from that
  // store after ~10^4 wakeups (revents 0, a lost wakeup). So the address is taken at each call, and revents is
  // read through its own Uint16Array view, which the stores in `add` never touch.
  #buf = new Int32Array(2 * 8);
  #revents = new Uint16Array(this.#buf.buffer);
  #count = 0;
  #ready = 0;

  get count(): number {
    return this.#count;
  }

  /** Replaces the set with `fds`, all waiting for `events`. */
  set(fds: readonly number[], events: number): void {
    this.#count = 0;
    for (let i = 0; i < fds.length; i++) this.add(fds[i]!, events);
  }

  /** Clears the set. */
  clear(): void {
    this.#count = 0;
  }

  /** Appends one fd waiting for `events`. */
  add(fd: number, events: number): void {
    const i = this.#count;
    if (2 * (i + 1) > this.#buf.length) {
      const bigger = new Int32Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
      this.#revents = new Uint16Array(bigger.buffer);
    }
    this.#buf[2 * i] = fd;
    this.#buf[2 * i + 1] = events & 0xffff; // events in the low half, revents (the high half) cleared
    this.#count = i + 1;
  }

  /** poll(2); returns the number of ready fds (0 on timeout or EINTR, with every revents then 0). */
  wait(timeoutMs: number): number {
    let ret = hotLib.poll(ptr(this.#buf), this.#count, timeoutMs);
    if (ret < 0) {
      const e = errno();
      if (e !== 4 /* EINTR */) throw new SysError("poll", `${this.#count} fds`, e);
      ret = 0;
    }
    this.#ready = ret;
    return ret;
  }

  /** revents of the i-th fd after the last `wait` (0 when nothing was ready). */
  revents(i: number): number {
    if (this.#ready <= 0 || i >= this.#count) return 0;
    return this.#revents[4 * i + 3]!;
  }
}

/** preadv(2) over an iovec array already in memory at `iov`; returns the byte count (throws on failure). */
export function preadvAt(fd: number, iov: Pointer, count: number, offset: number, what: string): number {
  const n = hotLib.preadv(fd, iov, count, offset) as number;
  if (n < 0) throw new SysError("preadv", what, errno());
  return n;
}

/** pwritev(2) over an iovec array already in memory at `iov`; returns the byte count (throws on failure). */
export function pwritevAt(fd: number, iov: Pointer, count: number, offset: number, what: string): number {
  const n = hotLib.pwritev(fd, iov, count, offset) as number;
  if (n < 0) throw new SysError("pwritev", what, errno());
  return n;
}

const eventfdWord = new BigUint64Array(1);

/** Reads and resets a non-blocking eventfd; true when it had been signalled (no BigInt on the way). */
export function eventfdConsume(fd: number): boolean {
  const ret = hotLib.read(fd, ptr(eventfdWord), 8) as number;
  if (ret >= 0) return true;
  const e = errno();
  if (e === 11 /* EAGAIN */) return false;
  throw new SysError("read", `eventfd ${fd}`, e);
}
