// The VHOST_SET_VRING_ERR eventfd as a PollSource of the device process (../kind.ts): the kernel signals it when
// it cannot read or write a ring (a driver that moved its rings out of RAM, a bad descriptor). The device then
// asks for a reset (2.1.2 DEVICE_NEEDS_RESET); until the driver resets it, the kernel's ring stays stopped.
import { eventfdConsume } from "../../../../ffi/libc.ts";
import type { PollSource } from "../kind.ts";

export function vhostErrorSource(fd: number, onError: () => void): PollSource {
  return {
    fd,
    onReadable() {
      if (eventfdConsume(fd)) onError();
      return true;
    },
  };
}
