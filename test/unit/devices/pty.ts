// Opens a pseudo-terminal pair for tests (the kernel's devpts: TIOCSPTLCK and TIOCGPTN from
// include/uapi/asm-generic/ioctls.h).
import { ioctl, O_CLOEXEC, O_NOCTTY, O_RDWR, open } from "../../../ffi/libc.ts";

const TIOCGPTN = 0x80045430; // _IOR('T', 0x30, unsigned int)
const TIOCSPTLCK = 0x40045431; // _IOW('T', 0x31, int)

export function openPty(): { master: number; slave: number; path: string } {
  const master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  ioctl(master, TIOCSPTLCK, new Int32Array([0]), "TIOCSPTLCK", "/dev/ptmx");
  const n = new Uint32Array(1);
  ioctl(master, TIOCGPTN, n, "TIOCGPTN", "/dev/ptmx");
  const path = `/dev/pts/${n[0]}`;
  const slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  return { master, slave, path };
}
