// Keeps the guest's kvmclock from jumping across a suspend, as QEMU's kvmclock device does on VM stop/start: read
// the VM-wide kvmclock (KVM_GET_CLOCK) when the vCPUs have parked, write the same value back (KVM_SET_CLOCK) just
// before they run again, so the paravirtual clock a Linux guest uses for its monotonic time resumes where it
// stopped. KVM_SET_CLOCK is given flags 0: with KVM_CLOCK_REALTIME it would add the host time that passed, which is
// what a suspend must not do.
//
// What this does not freeze (documented for `crosvm suspend`):
// - the TSC: the guest's TSC is the host's plus a fixed offset and keeps counting; freezing it would need
//   KVM_SET_TSC_KHZ/KVM_VCPU_TSC_OFFSET adjustments per vCPU, which this VMM does not make. A guest that reads
//   RDTSC directly (or uses the TSC clocksource instead of kvm-clock) sees the suspended time pass.
// - the in-kernel PIT and local APIC timers: they run on host hrtimers; a timer that expires while suspended is
//   delivered when the vCPUs run again (the PIT in its default reinject mode catches up on missed ticks).
// - the CMOS RTC, which reports host wall-clock time.
import { KVM_GET_CLOCK, KVM_SET_CLOCK } from "../../ffi/kvm.ts";
import { decodeClockData, encodeClockData, KVM_CLOCK_DATA_SIZE } from "../../ffi/kvm_structs.ts";
import { ioctl } from "../../ffi/libc.ts";

export class GuestClock {
  #frozenAt: bigint | undefined;

  constructor(readonly vmFd: number) {}

  /** The guest's kvmclock now, in ns (KVM_GET_CLOCK). */
  read(): bigint {
    const buf = new Uint8Array(KVM_CLOCK_DATA_SIZE);
    ioctl(this.vmFd, KVM_GET_CLOCK, buf, "KVM_GET_CLOCK", `VM fd ${this.vmFd}`);
    return decodeClockData(buf).clock;
  }

  /**
   * Records the kvmclock and returns it; call once the vCPUs are parked. A second call before thaw() keeps (and
   * returns) the first value.
   */
  freeze(): bigint {
    this.#frozenAt ??= this.read();
    return this.#frozenAt;
  }

  /** Sets the kvmclock back to the recorded value (KVM_SET_CLOCK); call before the vCPUs run again. */
  thaw(): void {
    const clock = this.#frozenAt;
    if (clock === undefined) return;
    this.#frozenAt = undefined;
    const data = encodeClockData({ clock, flags: 0, realtime: 0n, hostTsc: 0n });
    ioctl(this.vmFd, KVM_SET_CLOCK, data, "KVM_SET_CLOCK", `VM fd ${this.vmFd}`);
  }
}
