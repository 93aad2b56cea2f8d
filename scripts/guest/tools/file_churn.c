/*
 * file-churn: one phase of the small-file benchmark (bench/fs), timed in the guest without a process per file
 * (a busybox shell loop would measure fork and exec more than the file system). Freestanding (raw syscalls, no
 * libc), so it builds with any gcc into a static binary for the guest's initramfs.
 *
 *   file-churn create|stat|unlink DIR COUNT
 *
 * create: openat(DIR, "fN", O_WRONLY|O_CREAT|O_EXCL, 0644) + close for N in 0..COUNT-1; stat: newfstatat of each;
 * unlink: unlinkat of each. Prints "PHASE COUNT NANOSECONDS" (CLOCK_MONOTONIC around the loop) and exits 0, or
 * names the first call that failed with its errno and exits 1.
 */
#include "freestanding.h"

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define SYS_clock_gettime 228
#define SYS_openat 257
#define SYS_newfstatat 262
#define SYS_unlinkat 263
/* include/uapi/asm-generic/fcntl.h (x86_64 values) and linux/time.h. */
#define O_WRONLY 01
#define O_CREAT 0100
#define O_EXCL 0200
#define O_DIRECTORY 0200000
#define CLOCK_MONOTONIC 1
#define MAX_COUNT 10000000

/* A decimal count, or -1 when `s` is empty, not all digits, or above MAX_COUNT. */
static long parse_count(const char *s) {
  long v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
    if (v > MAX_COUNT) return -1;
  }
  return v;
}

/* "f" followed by n in decimal. */
static void name_of(long n, char *out) {
  char digits[24];
  int k = 0;
  do {
    digits[k++] = '0' + n % 10;
    n /= 10;
  } while (n);
  *out++ = 'f';
  while (k) *out++ = digits[--k];
  *out = 0;
}

static long now_ns(void) {
  long ts[2];
  sys4(SYS_clock_gettime, CLOCK_MONOTONIC, (long)ts, 0, 0);
  return ts[0] * 1000000000L + ts[1];
}

static int fail(const char *what, long n, long err) {
  put(1, "file-churn: ");
  put(1, what);
  put(1, " f");
  put_int(1, n);
  put(1, " failed with errno ");
  put_int(1, -err);
  put(1, "\n");
  return 1;
}

long cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  long count = argc == 4 ? parse_count(argv[3]) : -1;
  int phase = argc != 4 ? -1 : same(argv[1], "create") ? 0 : same(argv[1], "stat") ? 1 : same(argv[1], "unlink") ? 2 : -1;
  if (phase < 0 || count < 0) {
    put(1, "usage: file-churn create|stat|unlink DIR COUNT (COUNT at most 10000000)\n");
    return 2;
  }
  long dir = sys4(SYS_open, (long)argv[2], O_DIRECTORY, 0, 0);
  if (dir < 0) return fail("open of DIR for", 0, dir);
  char name[32];
  long st[18]; /* struct stat is 144 bytes on x86_64 */
  long start = now_ns();
  for (long n = 0; n < count; n++) {
    name_of(n, name);
    long r;
    if (phase == 0) {
      r = sys4(SYS_openat, dir, (long)name, O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (r < 0) return fail("create of", n, r);
      sys4(SYS_close, r, 0, 0, 0);
    } else if (phase == 1) {
      r = sys4(SYS_newfstatat, dir, (long)name, (long)st, 0);
      if (r < 0) return fail("stat of", n, r);
    } else {
      r = sys4(SYS_unlinkat, dir, (long)name, 0, 0);
      if (r < 0) return fail("unlink of", n, r);
    }
  }
  long elapsed = now_ns() - start;
  put(1, argv[1]);
  put(1, " ");
  put_int(1, count);
  put(1, " ");
  put_int(1, elapsed);
  put(1, "\n");
  return 0;
}
