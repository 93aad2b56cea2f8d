// Interrupt delivery from a device model. The VMM registers each eventfd with KVM as an irqfd (KVM_IRQFD) for a
// GSI, so raising an interrupt is one 8-byte write: any thread or device process holding the fd can do it, and the
// vCPU loop is never involved.
import { eventfdWrite } from "../../ffi/libc.ts";

export interface IrqEvent {
  /** Raises the interrupt (an edge on the GSI the eventfd is bound to). */
  trigger(): void;
  /** The eventfd number, so that the device can be rebuilt in another thread or process; -1 if none. */
  readonly eventFd: number;
}

export class EventFdIrq implements IrqEvent {
  constructor(readonly eventFd: number) {}
  trigger(): void {
    eventfdWrite(this.eventFd, 1n);
  }
}

/** Counts triggers instead of raising anything; for unit tests of device models. */
export class RecordingIrq implements IrqEvent {
  readonly eventFd = -1;
  count = 0;
  trigger(): void {
    this.count++;
  }
}
