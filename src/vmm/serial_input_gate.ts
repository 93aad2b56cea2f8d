// Holds host input back from the UARTs while the VM is suspended with `crosvm suspend --full` (SuspendVm): the
// legacy devices' only background work is feeding stdin / input files into the UARTs (serial/input_pump.ts).
// While closed, each UART's queueInput takes nothing, which the input pump already treats as a full FIFO: it keeps
// the bytes and offers them again a few milliseconds later, so nothing is lost and the guest receives the input
// after ResumeVm.
//
// This wraps queueInput on the UART instances because LegacyDevices (src/devices/legacy.ts) has no sleep/wake of
// its own yet; once it has (pausing its input pumps and the CMOS alarm), this file should go.
import { Uart16550 } from "../devices/serial/uart.ts";
import type { BusDevice } from "../devices/bus.ts";

export class SerialInputGate {
  #closed = false;

  constructor(devices: readonly { device: BusDevice }[]) {
    for (const { device } of devices) {
      if (!(device instanceof Uart16550)) continue;
      const queueInput = device.queueInput.bind(device);
      device.queueInput = (bytes: Uint8Array) => (this.#closed ? 0 : queueInput(bytes));
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops input from reaching the guest; it waits in the input pumps. */
  close(): void {
    this.#closed = true;
  }

  /** Lets held-back and new input reach the guest again. */
  open(): void {
    this.#closed = false;
  }
}
