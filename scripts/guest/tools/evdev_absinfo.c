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
#include "freestanding.h"

/* EVIOCGABS(abs) = _IOR('E', 0x40 + abs, struct input_absinfo): 24-byte struct. */
#define EVIOCGABS(abs) ((2UL << 30) | (24UL << 16) | ('E' << 8) | (0x40 + (abs)))

long cmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  if (argc < 3) {
    put(1, "usage: evdev-absinfo /dev/input/eventN AXIS...\n");
    return 2;
  }
  long fd = sys3(SYS_open, (long)argv[1], 0 /* O_RDONLY */, 0);
  if (fd < 0) {
    put(1, "evdev-absinfo: cannot open the device\n");
    return 1;
  }
  for (long i = 2; i < argc; i++) {
    long axis = parse(argv[i]);
    int info[6];
    if (axis > 0x3f || sys3(SYS_ioctl, fd, EVIOCGABS(axis), (long)info) < 0) {
      put(1, "evdev-absinfo: EVIOCGABS failed for axis ");
      put_int(1, axis);
      put(1, "\n");
      return 1;
    }
    put_int(1, axis);
    for (int k = 0; k < 6; k++) {
      put(1, " ");
      put_int(1, info[k]);
    }
    put(1, "\n");
  }
  return 0;
}
