/*
 * evdev-absinfo: prints the range of absolute axes of an input event device, for the e2e tests (busybox has no
 * ioctl applet and sysfs shows only which axes exist). Freestanding (raw syscalls, no libc), so it builds with
 * any gcc into a static binary for the guest's initramfs.
 *
 *   evdev-absinfo /dev/input/eventN AXIS...   (AXIS in decimal, e.g. 53 for ABS_MT_POSITION_X)
 *
 * prints one line per axis: "AXIS VALUE MIN MAX FUZZ FLAT RESOLUTION" (struct input_absinfo, linux/input.h),
 * and exits 1 when the device cannot be opened or an axis cannot be read.
 */
typedef unsigned long u64;

static long sys3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

#define SYS_write 1
#define SYS_open 2
#define SYS_ioctl 16
#define SYS_exit 60
/* EVIOCGABS(abs) = _IOR('E', 0x40 + abs, struct input_absinfo): 24-byte struct. */
#define EVIOCGABS(abs) ((2UL << 30) | (24UL << 16) | ('E' << 8) | (0x40 + (abs)))

static void put(const char *s) {
  long n = 0;
  while (s[n]) n++;
  sys3(SYS_write, 1, (long)s, n);
}

static void put_int(long v) {
  char buf[24];
  int i = sizeof buf - 1;
  int neg = v < 0;
  u64 u = neg ? -(u64)v : (u64)v;
  buf[i] = 0;
  do {
    buf[--i] = '0' + u % 10;
    u /= 10;
  } while (u);
  if (neg) buf[--i] = '-';
  put(buf + i);
}

static long parse(const char *s) {
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}

long cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc < 3) {
    put("usage: evdev-absinfo /dev/input/eventN AXIS...\n");
    return 2;
  }
  long fd = sys3(SYS_open, (long)argv[1], 0 /* O_RDONLY */, 0);
  if (fd < 0) {
    put("evdev-absinfo: cannot open the device\n");
    return 1;
  }
  for (long i = 2; i < argc; i++) {
    long axis = parse(argv[i]);
    int info[6];
    if (axis > 0x3f || sys3(SYS_ioctl, fd, EVIOCGABS(axis), (long)info) < 0) {
      put("evdev-absinfo: EVIOCGABS failed for axis ");
      put_int(axis);
      put("\n");
      return 1;
    }
    put_int(axis);
    for (int k = 0; k < 6; k++) {
      put(" ");
      put_int(info[k]);
    }
    put("\n");
  }
  return 0;
}

__attribute__((naked, noreturn)) void _start(void) {
  __asm__ volatile(
      "mov %rsp, %rdi\n"
      "and $-16, %rsp\n"
      "call cmain\n"
      "mov %rax, %rdi\n"
      "mov $60, %eax\n"
      "syscall\n");
}
