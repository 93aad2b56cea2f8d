/*
 * vsock-io: one AF_VSOCK stream connection for the e2e tests (busybox has no vsock applet). Freestanding (raw
 * syscalls, no libc), so it builds with any gcc into a static binary for the guest's initramfs.
 *
 *   vsock-io connect CID PORT   connect to CID:PORT (retrying for up to 120 s while nobody listens there yet),
 *                               send stdin, shut down the sending side (the peer reads EOF), then copy what the
 *                               peer sends to stdout until it closes
 *   vsock-io listen PORT        accept one connection on PORT from any CID, copy what the peer sends to stdout
 *                               until it shuts down its side, then send stdin and close
 *
 * One direction at a time (the connecting side sends first, the listening side answers), so neither side ever
 * waits for the other to read while it is writing itself. For bench/vsock, a timed stream without stdin and
 * stdout in its way:
 *
 *   vsock-io send CID PORT SECONDS   connect as `connect` does, send 64 KiB writes of zeros for SECONDS, shut down
 *                                    the sending side, wait until the peer closes; print "BYTES" sent
 *   vsock-io sink PORT               accept one connection as `listen` does, read until the peer shuts down its
 *                                    side, close; print "BYTES NANOSECONDS", the time from the first byte to the
 *                                    end of the stream (CLOCK_MONOTONIC)
 *
 * Exits 0, or 1 after a failed call, whose name and errno it prints to stderr.
 */
#include "freestanding.h"

#define SYS_nanosleep 35
#define SYS_clock_gettime 228
#define SYS_socket 41
#define SYS_connect 42
#define SYS_accept 43
#define SYS_shutdown 48
#define SYS_bind 49
#define SYS_listen 50

/* linux/socket.h AF_VSOCK; linux/net.h SOCK_STREAM; SHUT_WR; linux/vm_sockets.h VMADDR_CID_ANY. */
#define AF_VSOCK 40
#define SOCK_STREAM 1
#define SHUT_WR 1
#define VMADDR_CID_ANY 0xffffffffU
#define EINTR 4
/* linux/time.h */
#define CLOCK_MONOTONIC 1

/* struct sockaddr_vm (linux/vm_sockets.h): 16 bytes. */
struct sockaddr_vm {
  u16 svm_family;
  u16 svm_reserved1;
  u32 svm_port;
  u32 svm_cid;
  unsigned char svm_flags;
  unsigned char svm_zero[3];
};

static char buf[65536];

static long fail(const char *what, long err) {
  put(2, "vsock-io: ");
  put(2, what);
  put(2, " failed: errno ");
  put_int(2, err);
  put(2, "\n");
  return 1;
}

/* Writes all of buf[0..n) to fd; returns 0 or a negative errno. */
static long write_all(long fd, const char *p, long n) {
  while (n > 0) {
    long w = sys3(SYS_write, fd, (long)p, n);
    if (w == -EINTR) continue;
    if (w < 0) return w;
    p += w;
    n -= w;
  }
  return 0;
}

/* Copies from `in` to `out` until EOF; returns 0 or a negative errno (of either side). */
static long copy(long in, long out) {
  for (;;) {
    long n = sys3(SYS_read, in, (long)buf, sizeof buf);
    if (n == -EINTR) continue;
    if (n <= 0) return n;
    long w = write_all(out, buf, n);
    if (w < 0) return w;
  }
}

/* The connecting side: stdin to the peer, end of stream, then the peer's answer to stdout. */
static long send_then_receive(long sock) {
  long r = copy(0, sock);
  if (r < 0) return fail("sending stdin", r);
  r = sys3(SYS_shutdown, sock, SHUT_WR, 0);
  if (r < 0) return fail("shutdown", r);
  r = copy(sock, 1);
  if (r < 0) return fail("receiving", r);
  sys3(SYS_close, sock, 0, 0);
  return 0;
}

/* The listening side: the peer's stream to stdout until its end, then stdin back, then close. */
static long receive_then_send(long sock) {
  long r = copy(sock, 1);
  if (r < 0) return fail("receiving", r);
  r = copy(0, sock);
  if (r < 0) return fail("sending stdin", r);
  sys3(SYS_close, sock, 0, 0);
  return 0;
}

static long now_ns(void) {
  long ts[2];
  sys3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)ts, 0);
  return ts[0] * 1000000000L + ts[1];
}

/* A socket connected to CID:PORT, retrying for up to 120 s while nobody listens there yet; or -1 (reported). */
static long connect_retrying(u32 cid, u32 port) {
  struct sockaddr_vm addr = {AF_VSOCK, 0, port, cid, 0, {0, 0, 0}};
  long r = 0;
  for (int attempt = 0; attempt < 240; attempt++) {
    long sock = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
    if (sock < 0) return fail("socket", sock), -1;
    r = sys3(SYS_connect, sock, (long)&addr, sizeof addr);
    if (r == 0) return sock;
    sys3(SYS_close, sock, 0, 0);
    long half_second[2] = {0, 500000000};
    sys3(SYS_nanosleep, (long)half_second, 0, 0);
  }
  return fail("connect", r), -1;
}

/* The first connection to PORT from any CID (the listening socket closed); or -1 (reported). */
static long accept_one(u32 port) {
  struct sockaddr_vm addr = {AF_VSOCK, 0, port, VMADDR_CID_ANY, 0, {0, 0, 0}};
  long sock = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
  if (sock < 0) return fail("socket", sock), -1;
  long r = sys3(SYS_bind, sock, (long)&addr, sizeof addr);
  if (r < 0) return fail("bind", r), -1;
  r = sys3(SYS_listen, sock, 1, 0);
  if (r < 0) return fail("listen", r), -1;
  long conn;
  do conn = sys3(SYS_accept, sock, 0, 0);
  while (conn == -EINTR);
  if (conn < 0) return fail("accept", conn), -1;
  sys3(SYS_close, sock, 0, 0);
  return conn;
}

static long do_connect(u32 cid, u32 port) {
  long sock = connect_retrying(cid, port);
  return sock < 0 ? 1 : send_then_receive(sock);
}

static long do_listen(u32 port) {
  long sock = accept_one(port);
  return sock < 0 ? 1 : receive_then_send(sock);
}

/* Reads and drops what arrives on `sock` until EOF; returns the byte count or a negative errno. */
static long drain(long sock, long *first_byte_ns) {
  long bytes = 0;
  for (;;) {
    long n = sys3(SYS_read, sock, (long)buf, sizeof buf);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? n : bytes;
    if (bytes == 0 && first_byte_ns) *first_byte_ns = now_ns();
    bytes += n;
  }
}

static long do_send(u32 cid, u32 port, long seconds) {
  long sock = connect_retrying(cid, port);
  if (sock < 0) return 1;
  for (long i = 0; i < (long)sizeof buf; i++) buf[i] = 0;
  long bytes = 0;
  long end = now_ns() + seconds * 1000000000L;
  while (now_ns() < end) {
    long r = write_all(sock, buf, sizeof buf);
    if (r < 0) return fail("sending", r);
    bytes += sizeof buf;
  }
  long r = sys3(SYS_shutdown, sock, SHUT_WR, 0);
  if (r < 0) return fail("shutdown", r);
  r = drain(sock, 0);
  if (r < 0) return fail("waiting for the peer to close", r);
  sys3(SYS_close, sock, 0, 0);
  put_int(1, bytes);
  put(1, "\n");
  return 0;
}

static long do_sink(u32 port) {
  long sock = accept_one(port);
  if (sock < 0) return 1;
  long first = 0;
  long bytes = drain(sock, &first);
  if (bytes < 0) return fail("receiving", bytes);
  long elapsed = bytes > 0 ? now_ns() - first : 0;
  sys3(SYS_close, sock, 0, 0);
  put_int(1, bytes);
  put(1, " ");
  put_int(1, elapsed);
  put(1, "\n");
  return 0;
}

long cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc == 4 && same(argv[1], "connect")) return do_connect(parse(argv[2]), parse(argv[3]));
  if (argc == 3 && same(argv[1], "listen")) return do_listen(parse(argv[2]));
  if (argc == 5 && same(argv[1], "send")) return do_send(parse(argv[2]), parse(argv[3]), parse(argv[4]));
  if (argc == 3 && same(argv[1], "sink")) return do_sink(parse(argv[2]));
  put(2, "usage: vsock-io connect CID PORT | vsock-io listen PORT | vsock-io send CID PORT SECONDS | "
         "vsock-io sink PORT\n");
  return 2;
}
