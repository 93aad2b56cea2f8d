// The host side of the vsock tests in test/e2e/net.test.ts, run where the VMM runs (the outer rig VM) by the VMM
// executable itself (BUN_BE_BUN=1 crosvm vsock_host_helper.ts ...), so it is self-contained: node and bun:ffi.
// AF_VSOCK sockets through libc, one connection, one direction at a time (as scripts/guest/tools/vsock_io.c):
//
//   listen PORT FILE OUT      listen on PORT (any CID), touch OUT.ready; accept one connection, read until the
//                             peer shuts down its side (touching OUT.started once 1 MiB has arrived), send FILE,
//                             close; write "SHA256 BYTES" of what arrived to OUT
//   connect CID PORT FILE     connect to CID:PORT (retrying for up to 120 s), send FILE, shut down the sending
//                             side, read until the peer closes; print "SHA256 BYTES" of what arrived
//   probe CID PORT SECONDS    connect to CID:PORT until the answer is other than ENODEV (no VM has that CID) or
//                             ETIMEDOUT (a VM has it, but its guest's driver is not up yet), or SECONDS have passed;
//                             print "connected" or "errno N" of the last attempt
import { dlopen, FFIType, ptr, toArrayBuffer } from "bun:ffi";
import { readFileSync, writeFileSync } from "node:fs";

// linux/socket.h, linux/vm_sockets.h
const AF_VSOCK = 40;
const SOCK_STREAM = 1;
const SHUT_WR = 1;
const VMADDR_CID_ANY = 0xffffffff;
const EINTR = 4;
const CHUNK = 1 << 16;

const libc = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  accept: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  shutdown: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
}).symbols;

function errno(): number {
  return new Int32Array(toArrayBuffer(libc.__errno_location()!, 0, 4))[0]!;
}

function check(ret: number | bigint, what: string): number {
  const n = Number(ret);
  if (n < 0) throw new Error(`${what} failed: errno ${errno()}`);
  return n;
}

/** struct sockaddr_vm: u16 family, u16 reserved, u32 port, u32 cid, u8 flags, u8 zero[3]. */
function sockaddrVm(cid: number, port: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_VSOCK, true);
  v.setUint32(4, port, true);
  v.setUint32(8, cid, true);
  return b;
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.length;) {
    const n = Number(libc.write(fd, ptr(data, at), Math.min(CHUNK, data.length - at)));
    if (n < 0 && errno() === EINTR) continue;
    at += check(n, "write");
  }
}

/** Reads until EOF; returns the SHA-256 and byte count of what arrived. `started` runs once 1 MiB has. */
function readAll(fd: number, started?: () => void): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const buf = new Uint8Array(CHUNK);
  let bytes = 0;
  for (;;) {
    const n = Number(libc.read(fd, ptr(buf), CHUNK));
    if (n < 0 && errno() === EINTR) continue;
    if (check(n, "read") === 0) break;
    hasher.update(buf.subarray(0, n));
    if (bytes < 1 << 20 && bytes + n >= 1 << 20) started?.();
    bytes += n;
  }
  return `${hasher.digest("hex")} ${bytes}`;
}

function listenOnce(port: number, file: string, out: string): void {
  const data = readFileSync(file);
  const sock = check(libc.socket(AF_VSOCK, SOCK_STREAM, 0), "socket");
  const addr = sockaddrVm(VMADDR_CID_ANY, port);
  check(libc.bind(sock, ptr(addr), addr.length), `bind to port ${port}`);
  check(libc.listen(sock, 1), "listen");
  writeFileSync(`${out}.ready`, "");
  let conn: number;
  do conn = libc.accept(sock, 0, 0);
  while (conn < 0 && errno() === EINTR);
  check(conn, "accept");
  libc.close(sock);
  const received = readAll(conn, () => writeFileSync(`${out}.started`, ""));
  writeAll(conn, data);
  libc.close(conn);
  writeFileSync(out, `${received}\n`);
}

async function connectOnce(cid: number, port: number, file: string): Promise<void> {
  const data = readFileSync(file);
  const addr = sockaddrVm(cid, port);
  for (let attempt = 0; ; attempt++) {
    const sock = check(libc.socket(AF_VSOCK, SOCK_STREAM, 0), "socket");
    if (libc.connect(sock, ptr(addr), addr.length) === 0) {
      writeAll(sock, data);
      check(libc.shutdown(sock, SHUT_WR), "shutdown");
      const received = readAll(sock);
      libc.close(sock);
      console.log(received);
      return;
    }
    const e = errno();
    libc.close(sock);
    if (attempt >= 240) throw new Error(`connect to ${cid}:${port} failed: errno ${e}`);
    await Bun.sleep(500);
  }
}

// asm-generic/errno-base.h, errno.h
const ENODEV = 19;
const ETIMEDOUT = 110;

/** Whether anything answers at CID (see `probe` above). */
async function probe(cid: number, port: number, seconds: number): Promise<void> {
  const addr = sockaddrVm(cid, port);
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const sock = check(libc.socket(AF_VSOCK, SOCK_STREAM, 0), "socket");
    const connected = libc.connect(sock, ptr(addr), addr.length) === 0;
    const e = connected ? 0 : errno();
    libc.close(sock);
    if (connected || (e !== ENODEV && e !== ETIMEDOUT) || performance.now() > deadline) {
      console.log(connected ? "connected" : `errno ${e}`);
      return;
    }
    await Bun.sleep(500);
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "listen" && args.length === 3) listenOnce(Number(args[0]), args[1]!, args[2]!);
else if (mode === "connect" && args.length === 3)
  await connectOnce(Number(args[0]), Number(args[1]), args[2]!);
else if (mode === "probe" && args.length === 3)
  await probe(Number(args[0]), Number(args[1]), Number(args[2]));
else {
  console.error(
    "usage: vsock_host_helper.ts listen PORT FILE OUT | connect CID PORT FILE | probe CID PORT SECONDS",
  );
  process.exit(2);
}
