// Exit-cost reference: the same guest and the same KVM setup as the TypeScript loop (in-kernel irqchip and PIT,
// RAM at 0, the image ending at 4 GiB), run by a plain C KVM_RUN loop that dispatches each port write to a trivial
// device. Prints "<exits> <nanoseconds>" for the timed exits. Usage: ref_loop IMAGE EXITS
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (2u << 20)
#define IMAGE_SIZE 0x10000u

static void die(const char *what) {
  perror(what);
  exit(1);
}

static volatile uint8_t scratch; // the "device": the last byte written

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IMAGE EXITS\n", argv[0]);
    return 2;
  }
  long exits = atol(argv[2]);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  uint64_t idmap = 0xfeffc000;
  if (ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) die("KVM_SET_IDENTITY_MAP_ADDR");
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfeffd000ul) < 0) die("KVM_SET_TSS_ADDR");
  if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
  struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
  if (ioctl(vm, KVM_CREATE_PIT2, &pit) < 0) die("KVM_CREATE_PIT2");

  void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void *rom = mmap(NULL, IMAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED || rom == MAP_FAILED) die("mmap");
  FILE *f = fopen(argv[1], "rb");
  if (!f || fread(rom, 1, IMAGE_SIZE, f) != IMAGE_SIZE) die(argv[1]);
  fclose(f);
  struct kvm_userspace_memory_region r0 = {0, 0, 0, RAM_SIZE, (uint64_t)ram};
  struct kvm_userspace_memory_region r1 = {1, 0, 0x100000000ull - IMAGE_SIZE, IMAGE_SIZE, (uint64_t)rom};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0)
    die("KVM_SET_USER_MEMORY_REGION");

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  long n = 0;
  uint64_t start = now_ns();
  while (n < exits) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason != KVM_EXIT_IO) {
      fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3ff) scratch = data[0];
    n++;
  }
  uint64_t end = now_ns();
  printf("%ld %llu\n", n, (unsigned long long)(end - start));
  return 0;
}
