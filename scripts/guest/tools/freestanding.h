/*
 * What the guest tools share (scripts/guest/tools.ts builds each *.c here; gcc finds this header beside it):
 * no libc, so raw x86-64 syscalls, decimal output and input, and the process entry that calls the tool's
 * `long cmain(long *sp)` (sp: argc, then argv) and exits with what it returns.
 */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;

/* arch/x86/entry/syscalls/syscall_64.tbl */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_ioctl 16
#define SYS_exit 60

static inline long sys3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

/* A syscall with a fourth argument (in r10). */
static inline long sys4(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
}

/* Whether the strings `a` and `b` are equal. */
static inline int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* Writes the string `s` to `fd`. */
static inline void put(long fd, const char *s) {
  long n = 0;
  while (s[n]) n++;
  sys3(SYS_write, fd, (long)s, n);
}

/* Writes `v` in decimal to `fd`. */
static inline void put_int(long fd, long v) {
  char b[24];
  int i = sizeof b - 1;
  int neg = v < 0;
  u64 u = neg ? -(u64)v : (u64)v;
  b[i] = 0;
  do {
    b[--i] = '0' + u % 10;
    u /= 10;
  } while (u);
  if (neg) b[--i] = '-';
  put(fd, b + i);
}

/* The decimal number `s` starts with (0 if none). */
static inline long parse(const char *s) {
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}

long cmain(long *sp);

__attribute__((naked, noreturn)) void _start(void) {
  __asm__ volatile(
      "mov %rsp, %rdi\n"
      "and $-16, %rsp\n"
      "call cmain\n"
      "mov %rax, %rdi\n"
      "mov $60, %eax\n"
      "syscall\n");
}
