// TUN/TAP and network-interface ioctls (include/uapi/linux/if_tun.h, include/uapi/linux/if.h,
// include/uapi/linux/sockios.h), and the non-throwing read/write a TAP queue's hot path uses. The numbers were
// checked against the uapi headers with a C program (sizeof(struct ifreq) == 40, ifr_flags at 16) and are
// pinned by test/unit/virtio/net/tun_constants.test.ts.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno, ioctl, SysError } from "./libc.ts";

/** _IOW('T', 202, int) */
export const TUNSETIFF = 0x400454ca;
/** _IOR('T', 210, unsigned int) */
export const TUNGETIFF = 0x800454d2;
/** _IOW('T', 208, unsigned int) */
export const TUNSETOFFLOAD = 0x400454d0;
/** _IOW('T', 216, int) */
export const TUNSETVNETHDRSZ = 0x400454d8;
/** _IOW('T', 217, int) */
export const TUNSETQUEUE = 0x400454d9;

export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_ATTACH_QUEUE = 0x0200;
export const IFF_DETACH_QUEUE = 0x0400;

/** TUNSETOFFLOAD flags: what the TAP may hand the reader (offloads the guest accepts). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;

/** sockios.h */
export const SIOCSIFADDR = 0x8916;
export const SIOCSIFNETMASK = 0x891c;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const IFF_UP = 0x1;

/** struct ifreq: char ifr_name[IFNAMSIZ = 16]; then a 24-byte union (ifr_flags: short at 16, ifr_addr at 16). */
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;
const IFR_UNION = 16;

export const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

/** A struct ifreq naming `name` (at most IFNAMSIZ - 1 bytes), with `flags` in ifr_flags. */
export function ifreq(name: string, flags = 0): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length >= IFNAMSIZ)
    throw new Error(`interface name "${name}" is longer than ${IFNAMSIZ - 1} bytes`);
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(bytes);
  new DataView(req.buffer).setUint16(IFR_UNION, flags, true);
  return req;
}

export function ifreqName(req: Uint8Array): string {
  const end = req.indexOf(0);
  return new TextDecoder().decode(req.subarray(0, end < 0 ? IFNAMSIZ : Math.min(end, IFNAMSIZ)));
}

export function ifreqFlags(req: Uint8Array): number {
  return new DataView(req.buffer, req.byteOffset).getUint16(IFR_UNION, true);
}

/** Puts a struct sockaddr_in (family, port 0, address in network order) into ifr_addr. */
export function ifreqWithAddress(name: string, ipv4: readonly number[]): Uint8Array {
  const req = ifreq(name);
  new DataView(req.buffer).setUint16(IFR_UNION, AF_INET, true);
  req.set(ipv4, IFR_UNION + 4);
  return req;
}

const lib = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
}).symbols;

/** An AF_INET datagram socket, for the interface ioctls (SIOCSIFADDR...). */
export function inetSocket(): number {
  const fd = lib.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SysError("socket", "AF_INET", errno());
  return fd;
}

/** ioctl with a struct ifreq. */
export function ifreqIoctl(fd: number, request: number, req: Uint8Array, name: string, object: string): void {
  ioctl(fd, request, req, name, object);
}

/** read(2) of one frame; returns its length, 0 when nothing is waiting (EAGAIN), or -errno on another error. */
export function readFrame(fd: number, buf: Uint8Array): number {
  const n = lib.read(fd, ptr(buf), buf.length) as number;
  if (n >= 0) return n;
  const e = errno();
  return e === 11 /* EAGAIN */ ? 0 : -e;
}

/** write(2) of one frame; returns the bytes written or -errno. */
export function writeFrame(fd: number, frame: Uint8Array): number {
  const n = lib.write(fd, ptr(frame), frame.length) as number;
  return n >= 0 ? n : -errno();
}
