// The VMM's side of a NIC's TAP, done before any device process starts (which has no CAP_NET_ADMIN and its own
// network namespace, so it could do none of this): attach to a named TAP (one queue per queue pair with
// IFF_MULTI_QUEUE), check a TAP descriptor the caller passed (tap-fd), or create a TAP and give it the host's
// address (host-ip; this needs CAP_NET_ADMIN). Every queue gets the 12-byte offload header (TUNSETVNETHDRSZ) and
// no offloads until the guest accepts some (TUNSETOFFLOAD 0), and is made non-blocking. Failures are one line
// naming the --net value and what was expected.
import { existsSync } from "node:fs";
import {
  close,
  dup,
  F_GETFL,
  F_SETFL,
  fcntl,
  ioctl,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  open,
  SysError,
} from "../../../../ffi/libc.ts";
import {
  IFF_MULTI_QUEUE,
  IFF_NO_PI,
  IFF_TAP,
  IFF_UP,
  IFF_VNET_HDR,
  ifreq,
  ifreqFlags,
  ifreqIoctl,
  ifreqName,
  ifreqWithAddress,
  inetSocket,
  SIOCGIFFLAGS,
  SIOCSIFADDR,
  SIOCSIFFLAGS,
  SIOCSIFNETMASK,
  TUNGETIFF,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from "../../../../ffi/tun.ts";
import { parseIpv4, parseNetmask } from "./address.ts";
import { NET_HDR_SIZE } from "./constants.ts";

/** A --net value that cannot be used; the message starts with "--net VALUE:". */
export class NetOptionError extends Error {
  override name = "NetOptionError";
}

/** Where a NIC's frames go (the mode keys of one --net). */
export type TapSource =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "fd"; readonly fd: number }
  | { readonly kind: "host-ip"; readonly hostIp: string; readonly netmask: string };

export function describeSource(s: TapSource): string {
  if (s.kind === "name") return `tap-name=${s.name}`;
  if (s.kind === "fd") return `tap-fd=${s.fd}`;
  return `host-ip=${s.hostIp},netmask=${s.netmask}`;
}

const TUN_DEVICE = "/dev/net/tun";

function fail(s: TapSource, message: string): never {
  throw new NetOptionError(`--net ${describeSource(s)}: ${message}`);
}

/** Opens the TAP queues of one NIC: `pairs` descriptors (a tap-fd gives one). Returns them and the TAP's name. */
export function openTapQueues(s: TapSource, pairs: number): { fds: number[]; name: string } {
  const fds: number[] = [];
  try {
    if (s.kind === "fd") {
      if (pairs !== 1)
        fail(s, `vq-pairs=${pairs} needs one TAP queue per pair; a tap-fd gives one (use tap-name)`);
      const fd = adoptTapFd(s);
      fds.push(fd);
      return { fds, name: tapName(fd, s) };
    }
    const name = s.kind === "name" ? s.name : "";
    if (s.kind === "name") checkTapExists(s, s.name);
    const flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (pairs > 1 ? IFF_MULTI_QUEUE : 0);
    let actual = name;
    for (let i = 0; i < pairs; i++) {
      const fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      fds.push(fd);
      const req = ifreq(actual, flags);
      try {
        ioctl(fd, TUNSETIFF, req, "TUNSETIFF", TUN_DEVICE);
      } catch (e) {
        fail(s, attachProblem(e, actual, s.kind === "host-ip"));
      }
      actual = ifreqName(req);
      configureQueue(fd, s);
    }
    if (s.kind === "host-ip") configureHostAddress(s, actual);
    return { fds, name: actual };
  } catch (e) {
    for (const fd of fds) close(fd);
    if (e instanceof NetOptionError) throw e;
    if (e instanceof SysError && e.object === TUN_DEVICE)
      fail(s, `cannot open ${TUN_DEVICE}: ${e.code} (load the tun module)`);
    throw e;
  }
}

function checkTapExists(s: TapSource, name: string): void {
  if (!/^[^/\s:]{1,15}$/.test(name) || name === "." || name === "..")
    fail(s, "expected an interface name of 1 to 15 characters without '/', ':' or spaces");
  if (!existsSync(`/sys/class/net/${name}`))
    fail(s, `no such TAP interface (create it first, e.g. ip tuntap add ${name} mode tap)`);
  if (!existsSync(`/sys/class/net/${name}/tun_flags`)) fail(s, `${name} is not a TAP interface`);
}

function attachProblem(e: unknown, name: string, creating: boolean): string {
  const code = e instanceof SysError ? e.code : String(e);
  if (code === "EBUSY") return `TAP ${name} is busy (another process has it open)`;
  if (code === "EPERM" || code === "EACCES")
    return creating
      ? "creating a TAP needs CAP_NET_ADMIN (run as root, or make a TAP and pass tap-name=)"
      : `not allowed to attach TAP ${name} (it belongs to another user; EPERM)`;
  if (code === "EINVAL")
    return `TAP ${name} does not accept these flags (a multi-queue TAP for vq-pairs > 1 and a single-queue one otherwise)`;
  return `TUNSETIFF failed: ${code}`;
}

function configureQueue(fd: number, s: TapSource): void {
  try {
    ioctl(fd, TUNSETVNETHDRSZ, Int32Array.of(NET_HDR_SIZE), "TUNSETVNETHDRSZ", describeSource(s));
    ioctl(fd, TUNSETOFFLOAD, 0, "TUNSETOFFLOAD", describeSource(s));
  } catch (e) {
    fail(s, (e as Error).message);
  }
}

/** A tap-fd: must be a TAP with IFF_VNET_HDR; the VMM keeps its own duplicate, made non-blocking. */
function adoptTapFd(s: { kind: "fd"; fd: number }): number {
  const req = new Uint8Array(40);
  try {
    ioctl(s.fd, TUNGETIFF, req, "TUNGETIFF", `fd ${s.fd}`);
  } catch (e) {
    const code = e instanceof SysError ? e.code : String(e);
    if (code === "EBADF") fail(s, `descriptor ${s.fd} is not open`);
    fail(s, `descriptor ${s.fd} is not a TAP (TUNGETIFF: ${code})`);
  }
  const flags = ifreqFlags(req);
  if (!(flags & IFF_TAP)) fail(s, `descriptor ${s.fd} is a TUN, not a TAP`);
  if (!(flags & IFF_VNET_HDR)) fail(s, `TAP descriptor ${s.fd} was opened without IFF_VNET_HDR`);
  const fd = dup(s.fd);
  try {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    configureQueue(fd, s);
  } catch (e) {
    close(fd);
    throw e;
  }
  return fd;
}

function tapName(fd: number, s: TapSource): string {
  const req = new Uint8Array(40);
  ioctl(fd, TUNGETIFF, req, "TUNGETIFF", describeSource(s));
  return ifreqName(req);
}

/** host-ip: the TAP gets the host's address and netmask and is brought up. */
function configureHostAddress(s: { kind: "host-ip"; hostIp: string; netmask: string }, name: string): void {
  const ip = parseIpv4(s.hostIp) ?? fail(s, "host-ip: expected an IPv4 address");
  const mask = parseNetmask(s.netmask) ?? fail(s, "netmask: expected an IPv4 netmask");
  const sock = inetSocket();
  try {
    ifreqIoctl(sock, SIOCSIFADDR, ifreqWithAddress(name, ip), "SIOCSIFADDR", name);
    ifreqIoctl(sock, SIOCSIFNETMASK, ifreqWithAddress(name, mask), "SIOCSIFNETMASK", name);
    const req = ifreq(name);
    ifreqIoctl(sock, SIOCGIFFLAGS, req, "SIOCGIFFLAGS", name);
    const up = ifreq(name, ifreqFlags(req) | IFF_UP);
    ifreqIoctl(sock, SIOCSIFFLAGS, up, "SIOCSIFFLAGS", name);
  } catch (e) {
    const code = e instanceof SysError ? e.code : String(e);
    fail(
      s,
      code === "EPERM"
        ? "configuring the TAP needs CAP_NET_ADMIN"
        : `configuring TAP ${name} failed: ${(e as Error).message}`,
    );
  } finally {
    close(sock);
  }
}
