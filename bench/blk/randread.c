// 4 KiB random reads at queue depth 1 with O_DIRECT, for bench/blk: busybox has no fio, and a dd per read
// would measure fork+exec rather than the disk. Built static on the host and carried into the guest on a disk.
// Usage: randread DEVICE SECONDS  ->  prints "ops=N seconds=S iops=I"
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: randread DEVICE SECONDS\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_DIRECT);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || bytes < BLOCK) {
    perror("BLKGETSIZE64");
    return 1;
  }
  uint64_t blocks = bytes / BLOCK;
  void *buf;
  if (posix_memalign(&buf, BLOCK, BLOCK) != 0) return 1;
  // xorshift64: a fixed seed, so both VMMs read the same offsets.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  double limit = atof(argv[2]);
  double start = now(), elapsed = 0;
  long ops = 0;
  do {
    for (int i = 0; i < 64; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      if (pread(fd, buf, BLOCK, (off_t)((x % blocks) * BLOCK)) != BLOCK) {
        perror("pread");
        return 1;
      }
      ops++;
    }
    elapsed = now() - start;
  } while (elapsed < limit);
  printf("ops=%ld seconds=%.3f iops=%.0f\n", ops, elapsed, ops / elapsed);
  return 0;
}
