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
 * waits for the other to read while it is writing itself. Exits 0, or 1 after a failed call, whose name and
 * errno it prints to stderr.
 */
#include "freestanding.h"

#define SYS_nanosleep 35
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

static long do_connect(u32 cid, u32 port) {
  struct sockaddr_vm addr = {AF_VSOCK, 0, port, cid, 0, {0, 0, 0}};
  long r = 0;
  for (int attempt = 0; attempt < 240; attempt++) {
    long sock = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
    if (sock < 0) return fail("socket", sock);
    r = sys3(SYS_connect, sock, (long)&addr, sizeof addr);
    if (r == 0) return send_then_receive(sock);
    sys3(SYS_close, sock, 0, 0);
    long half_second[2] = {0, 500000000};
    sys3(SYS_nanosleep, (long)half_second, 0, 0);
  }
  return fail("connect", r);
}

static long do_listen(u32 port) {
  struct sockaddr_vm addr = {AF_VSOCK, 0, port, VMADDR_CID_ANY, 0, {0, 0, 0}};
  long sock = sys3(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
  if (sock < 0) return fail("socket", sock);
  long r = sys3(SYS_bind, sock, (long)&addr, sizeof addr);
  if (r < 0) return fail("bind", r);
  r = sys3(SYS_listen, sock, 1, 0);
  if (r < 0) return fail("listen", r);
  long conn;
  do conn = sys3(SYS_accept, sock, 0, 0);
  while (conn == -EINTR);
  if (conn < 0) return fail("accept", conn);
  sys3(SYS_close, sock, 0, 0);
  return receive_then_send(conn);
}

long cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc == 4 && same(argv[1], "connect")) return do_connect(parse(argv[2]), parse(argv[3]));
  if (argc == 3 && same(argv[1], "listen")) return do_listen(parse(argv[2]));
  put(2, "usage: vsock-io connect CID PORT | vsock-io listen PORT\n");
  return 2;
}
