// Eventfds the kernel signals and the device process polls (PollSources of ../kind.ts):
// - the VHOST_SET_VRING_ERR eventfd: the kernel cannot read or write a ring (a driver that moved its rings out of
//   RAM, a bad descriptor). The device then asks for a reset (2.1.2 DEVICE_NEEDS_RESET); until the driver resets
//   it, the kernel's ring stays stopped.
// - a vring's call relay (vrings.ts VhostRings.relaySources): the kernel used buffers of a queue without an MSI-X
//   vector, and the device passes that on to the transport (ISR bit, INTx).
import { eventfdConsume } from "../../../../ffi/libc.ts";
import type { PollSource } from "../kind.ts";

/** Consumes eventfd `fd` when it is readable and calls `onSignal` if it was signalled. */
export function kernelEventSource(fd: number, onSignal: () => void): PollSource {
  return {
    fd,
    onReadable() {
      if (eventfdConsume(fd)) onSignal();
      return true;
    },
  };
}

/** The VHOST_SET_VRING_ERR eventfd's source. */
export const vhostErrorSource = kernelEventSource;
