// The net device process gives up CAP_NET_ADMIN (include/uapi/linux/capability.h: bit 12) before it confines
// itself: the VMM did everything that needs it (open_tap.ts). Dropped from the bounding set (PR_CAPBSET_DROP)
// and from the effective, permitted and inheritable sets (capset, _LINUX_CAPABILITY_VERSION_3). Capabilities are
// per thread: this is the main thread, where the device model runs; the runtime's helper threads keep theirs, but
// the seccomp filter (installed on every thread with TSYNC) leaves them no system call that would use it.
import { prctl, syscall } from "../../../../ffi/libc.ts";

export const CAP_NET_ADMIN = 12;
const PR_CAPBSET_DROP = 24;
const PR_CAPBSET_READ = 23;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const SYS_CAPGET = 125;
const SYS_CAPSET = 126;

/** struct __user_cap_header_struct { u32 version; int pid; } and two struct __user_cap_data_struct. */
function capState(): { header: Uint32Array; data: Uint32Array } {
  const header = Uint32Array.of(LINUX_CAPABILITY_VERSION_3, 0);
  const data = new Uint32Array(6); // [effective, permitted, inheritable] x 2 (capabilities 0-31, 32-63)
  syscall(SYS_CAPGET, "capget", header, data);
  return { header, data };
}

/** Whether the calling thread has CAP_NET_ADMIN in its effective set. */
export function hasNetAdmin(): boolean {
  return (capState().data[0]! & (1 << CAP_NET_ADMIN)) !== 0;
}

export function dropNetAdmin(): void {
  if (prctl(PR_CAPBSET_READ, CAP_NET_ADMIN, 0, 0, 0, "PR_CAPBSET_READ") === 1)
    prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0, "PR_CAPBSET_DROP");
  const { header, data } = capState();
  const bit = 1 << CAP_NET_ADMIN;
  data[0]! &= ~bit;
  data[1]! &= ~bit;
  data[2]! &= ~bit;
  syscall(SYS_CAPSET, "capset", header, data);
}
