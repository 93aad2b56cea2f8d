// The Interrupt a device sees inside its device process. A used-buffer notification on an MSI-X vector is one
// write to that vector's irqfd (an eventfd the VMM registered with KVM_IRQFD for the vector's MSI route), so it
// never passes through the VMM. Everything that needs the transport's state (INTx mode, where ISR bits must be
// set first; configuration changes, which bump config_generation; DEVICE_NEEDS_RESET) goes to the VMM as an
// event message, applied there by ProxyVirtioDevice.drainEvents.
import { eventfdWrite, MSG_DONTWAIT, MSG_NOSIGNAL, send } from "../../../ffi/libc.ts";
import type { Interrupt } from "../../devices/virtio/interrupt.ts";
import { encodeBytes, encodeOp, encodeText, encodeU16, Op } from "./protocol.ts";

export class ChildInterrupt implements Interrupt {
  constructor(
    /** irqfd of MSI-X vector v at index v. */
    readonly irqfds: readonly number[],
    readonly eventSocket: number,
  ) {}

  #event(msg: Uint8Array): void {
    // A full event socket means the VMM is not draining it; dropping is better than blocking the device.
    send(this.eventSocket, msg, MSG_DONTWAIT | MSG_NOSIGNAL, "device event socket");
  }

  signalUsedQueue(vector: number): void {
    const fd = this.irqfds[vector];
    if (fd !== undefined) eventfdWrite(fd, 1n);
    else this.#event(encodeU16(Op.EventUsedQueue, vector));
  }

  signalConfigChanged(): void {
    this.#event(encodeOp(Op.EventConfigChanged));
  }

  signalNeedsReset(reason: string): void {
    this.#event(encodeText(Op.EventNeedsReset, reason));
  }

  signalDeviceEvent(payload: Uint8Array): void {
    this.#event(encodeBytes(Op.EventDevice, payload));
  }
}
