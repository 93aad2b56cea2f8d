// Kicking a vCPU thread out of KVM_RUN. Each vCPU thread blocks SIG_KICK for itself, and tells KVM (with
// KVM_SET_SIGNAL_MASK) to run the guest with SIG_KICK unblocked. A kick is tgkill(SIG_KICK) at the thread: inside
// KVM_RUN it makes KVM_RUN return EINTR; outside, the signal stays pending (it is blocked, so no handler is needed)
// and the next KVM_RUN returns EINTR at once, so a kick is never lost. The loop then takes the pending signal with
// sigtimedwait and looks at the shared stop flag. QEMU (SIG_IPI) and crosvm (SIGRTMIN) kick vCPUs the same way.
import { getpid, gettid, syscall, SysError } from "../../ffi/libc.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";

/** SIGRTMIN as glibc reports it (34: 32 and 33 are reserved by NPTL), as crosvm uses SIGRTMIN() + 0. */
export const SIG_KICK = 34;

// x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
const SYS_RT_SIGPROCMASK = 14;
const SYS_RT_SIGTIMEDWAIT = 128;
const SYS_TGKILL = 234;
const SYS_RT_SIGACTION = 13;
/** SIG_IGN, as the handler of struct kernel_sigaction {handler, flags, restorer, mask} (4 x u64). */
const SIG_IGN = 1n;
const SIG_BLOCK = 0;
/** The kernel's sigset_t is 64 bits on x86-64. */
const SIGSET_SIZE = 8;

const kickSet = new BigUint64Array([1n << BigInt(SIG_KICK - 1)]);
const zeroTimeout = new BigInt64Array(2); // struct timespec {0, 0}

/**
 * Blocks SIG_KICK in the calling thread and makes KVM unblock it during KVM_RUN of `vcpu`. Returns the thread id
 * to kick. Call it from the thread that runs the vCPU.
 */
export function prepareKickSignal(vcpu: Vcpu): number {
  ignoreStrayKicks();
  const old = new BigUint64Array(1);
  syscall(SYS_RT_SIGPROCMASK, "rt_sigprocmask", SIG_BLOCK, kickSet, old, SIGSET_SIZE);
  vcpu.setSignalMask(old[0]! & ~kickSet[0]!);
  return gettid();
}

/**
 * Makes SIG_KICK harmless to every thread that does not block it (its default action ends the process). The vCPU
 * threads still see their kicks: a blocked signal is never ignored, and inside KVM_RUN the thread's usual mask is
 * kept in real_blocked, which the kernel also honours (kernel/signal.c, sig_ignored()).
 */
export function ignoreStrayKicks(): void {
  const action = new BigUint64Array([SIG_IGN, 0n, 0n, 0n]);
  syscall(SYS_RT_SIGACTION, "rt_sigaction", SIG_KICK, action, 0, SIGSET_SIZE);
}

/** Takes a pending SIG_KICK, if any, so that the next KVM_RUN does not return EINTR again. */
export function consumeKickSignal(): void {
  try {
    syscall(SYS_RT_SIGTIMEDWAIT, "rt_sigtimedwait", kickSet, 0, zeroTimeout, SIGSET_SIZE);
  } catch (e) {
    // EAGAIN: nothing pending (the EINTR came from another signal).
    if (!(e instanceof SysError) || e.code !== "EAGAIN") throw e;
  }
}

/** Kicks the vCPU thread `tid` of this process out of KVM_RUN. */
export function kickThread(tid: number): void {
  try {
    syscall(SYS_TGKILL, "tgkill", getpid(), tid, SIG_KICK);
  } catch (e) {
    // ESRCH: the thread already ended.
    if (!(e instanceof SysError) || e.code !== "ESRCH") throw e;
  }
}
