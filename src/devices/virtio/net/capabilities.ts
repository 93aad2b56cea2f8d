// The net device process gives up CAP_NET_ADMIN (include/uapi/linux/capability.h: bit 12) before it confines
// itself: the VMM did everything that needs it (open_tap.ts). Dropped from the bounding set (PR_CAPBSET_DROP)
// and from the effective, permitted and inheritable sets (capset, _LINUX_CAPABILITY_VERSION_3). Capabilities are
// per thread: this is the main thread, where the device model runs; the runtime's helper threads keep theirs, but
// the seccomp filter (installed on every thread with TSYNC) leaves them no system call that would use it.
import { capget, capset, dropFromBoundingSet } from "../../../../ffi/credentials.ts";

export const CAP_NET_ADMIN = 12;

/** Whether the calling thread has CAP_NET_ADMIN in its effective set. */
export function hasNetAdmin(): boolean {
  return (capget().data[0]! & (1 << CAP_NET_ADMIN)) !== 0;
}

export function dropNetAdmin(): void {
  dropFromBoundingSet(CAP_NET_ADMIN);
  const sets = capget();
  const bit = 1 << CAP_NET_ADMIN;
  sets.data[0]! &= ~bit;
  sets.data[1]! &= ~bit;
  sets.data[2]! &= ~bit;
  capset(sets);
}
