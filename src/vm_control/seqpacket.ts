// Non-blocking SOCK_SEQPACKET Unix sockets, the transport of crosvm's control socket (base::UnixSeqpacket): each
// send is one packet and each recv returns exactly one packet, so one packet carries one JSON message.
// Bun has no SEQPACKET support of its own, so these go through bun:ffi; every call is non-blocking and callers
// wait for readiness with poll(2) (see server.ts and client.ts).
import * as libc from "../../ffi/libc.ts";

const SEQPACKET_TYPE = libc.SOCK_SEQPACKET | libc.SOCK_CLOEXEC | libc.SOCK_NONBLOCK;

/** A new non-blocking, close-on-exec SOCK_SEQPACKET socket. */
export function newSeqpacketSocket(what: string): number {
  return libc.socket(libc.AF_UNIX, SEQPACKET_TYPE, 0, what);
}

/** Connects a new socket to `path`; throws the connect SysError (ENOENT, ECONNREFUSED, ...) after closing it. */
export function connectSeqpacket(path: string): number {
  const fd = newSeqpacketSocket(`a control connection to ${path}`);
  try {
    libc.connect(fd, libc.sockaddrUn(path), path);
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return fd;
}

/** Accepts one pending connection as a non-blocking socket, or returns null when none is pending. */
export function acceptSeqpacket(listenFd: number, what: string): number | null {
  return libc.accept4(listenFd, libc.SOCK_CLOEXEC | libc.SOCK_NONBLOCK, what);
}

export type Received =
  | { readonly kind: "packet"; readonly bytes: Uint8Array }
  /** A packet longer than the buffer allows; it has been consumed and discarded. */
  | { readonly kind: "oversized"; readonly size: number }
  /** Nothing to read yet. */
  | { readonly kind: "none" }
  /** The peer closed its end (or reset it). */
  | { readonly kind: "closed" };

// errno values, include/uapi/asm-generic/errno-base.h and errno.h.
const EPIPE = 32;
const ECONNRESET = 104;

/**
 * Reads one packet of at most `maxSize` bytes. MSG_TRUNC makes recv report a longer packet's real size
 * (unix(7) honours it for SOCK_SEQPACKET), so an oversized packet is recognised rather than silently cut.
 * A zero-length read means the peer hung up, as crosvm's Tube treats it.
 */
export function recvPacket(fd: number, maxSize: number, what: string): Received {
  const buf = new Uint8Array(maxSize + 1);
  let n: number | null;
  try {
    n = libc.recv(fd, buf, libc.MSG_TRUNC | libc.MSG_DONTWAIT, what);
  } catch (e) {
    if (e instanceof libc.SysError && e.errno === ECONNRESET) return { kind: "closed" };
    throw e;
  }
  if (n === null) return { kind: "none" };
  if (n === 0) return { kind: "closed" };
  if (n > maxSize) return { kind: "oversized", size: n };
  return { kind: "packet", bytes: buf.subarray(0, n) };
}

export type SendResult = "sent" | "would-block" | "peer-gone";

/** Sends one packet without blocking and without SIGPIPE. */
export function sendPacket(fd: number, bytes: Uint8Array, what: string): SendResult {
  try {
    const n = libc.send(fd, bytes, libc.MSG_NOSIGNAL | libc.MSG_DONTWAIT, what);
    return n === null ? "would-block" : "sent";
  } catch (e) {
    if (e instanceof libc.SysError && (e.errno === EPIPE || e.errno === ECONNRESET)) return "peer-gone";
    throw e;
  }
}

/** poll(2) with a zero timeout: the revents of each fd, for POLLIN. */
export function readableNow(fds: readonly number[]): number[] {
  if (fds.length === 0) return [];
  return libc.poll(
    fds.map((fd) => ({ fd, events: libc.POLLIN })),
    0,
  );
}

export const READABLE = libc.POLLIN;
export const HUNG_UP = libc.POLLHUP | libc.POLLERR | libc.POLLNVAL;
