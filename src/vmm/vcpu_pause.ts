// Pausing the vCPUs (the control socket's SuspendVcpus/SuspendVm), both halves of the protocol over the shared
// control words (vcpu_protocol.ts):
// - main thread (requestPause): sets CONTROL_PAUSE, kicks every vCPU thread out of KVM_RUN (vcpu_kick.ts), then
//   waits without blocking its event loop until CONTROL_PARKED counts every running vCPU;
// - vCPU Worker (parkWhilePaused, called by the vCPU loop after a kick): counts itself in CONTROL_PARKED and blocks
//   in Atomics.wait on CONTROL_PAUSE until the main thread clears it (releasePause) or sets the stop flag.
// A parked vCPU is outside KVM_RUN, so the guest executes nothing on it; the in-kernel irqchip still collects
// interrupts, which the vCPU takes when it runs again. A kick is never lost (see vcpu_kick.ts), so a vCPU in the
// middle of an exit parks at its next KVM_RUN.
import { KVM_KVMCLOCK_CTRL } from "../../ffi/kvm.ts";
import { ioctlRaw } from "../../ffi/libc.ts";
import { CONTROL_PARKED, CONTROL_PAUSE, CONTROL_STOP } from "./vcpu_protocol.ts";

/** vCPU side: whether the main thread asks for a pause (false for a control array without pause words). */
export function pauseRequested(control: Int32Array): boolean {
  return control.length > CONTROL_PARKED && Atomics.load(control, CONTROL_PAUSE) !== 0;
}

/**
 * vCPU side: blocks the calling vCPU thread while the pause flag is set and the stop flag is not. Afterwards it
 * tells KVM the vCPU was paused by the host (KVM_KVMCLOCK_CTRL), so that a Linux guest's soft-lockup watchdog does
 * not report the gap; KVM refuses that with EINVAL when the guest has not enabled kvmclock, which is fine.
 */
export function parkWhilePaused(control: Int32Array, vcpuFd: number): void {
  Atomics.add(control, CONTROL_PARKED, 1);
  Atomics.notify(control, CONTROL_PARKED);
  while (Atomics.load(control, CONTROL_PAUSE) !== 0 && Atomics.load(control, CONTROL_STOP) === 0)
    Atomics.wait(control, CONTROL_PAUSE, 1);
  Atomics.sub(control, CONTROL_PARKED, 1);
  Atomics.notify(control, CONTROL_PARKED);
  if (Atomics.load(control, CONTROL_STOP) === 0) ioctlRaw(vcpuFd, KVM_KVMCLOCK_CTRL, 0);
}

/**
 * Main side: sets the pause flag, calls `kick` (which must kick every running vCPU thread), and resolves true
 * once `running()` vCPUs are parked, false if that did not happen within `timeoutMs` (the flag stays set; call
 * releasePause to undo). `running` is re-read while waiting, since a vCPU may end the VM meanwhile.
 */
export async function requestPause(
  control: Int32Array,
  kick: () => void,
  running: () => number,
  timeoutMs: number,
): Promise<boolean> {
  Atomics.store(control, CONTROL_PAUSE, 1);
  kick();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const parked = Atomics.load(control, CONTROL_PARKED);
    if (parked >= running()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    // Short slices: a vCPU that exits instead of parking changes running(), not CONTROL_PARKED.
    await Atomics.waitAsync(control, CONTROL_PARKED, parked, Math.min(left, 20)).value;
  }
}

/** Main side: clears the pause flag and wakes every parked vCPU. */
export function releasePause(control: Int32Array): void {
  Atomics.store(control, CONTROL_PAUSE, 0);
  Atomics.notify(control, CONTROL_PAUSE);
}

/** Main side: wakes parked vCPUs so that they see the stop flag (set it first). */
export function wakeParkedForStop(control: Int32Array): void {
  Atomics.notify(control, CONTROL_PAUSE);
}
