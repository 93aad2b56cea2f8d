// How a virtio device tells the driver something happened (virtio 1.2 section 4.1.5.3/4.1.5.4 for PCI): a
// used-buffer notification goes to the queue's MSI-X vector when MSI-X is on, otherwise it sets ISR bit 0 and
// raises INTx; a configuration change uses the config vector or ISR bit 1. Device code only sees the
// `Interrupt` interface, so the same device runs in the VMM or in a device process.
import type { IrqEvent } from "../irq.ts";
import type { MsixConfig } from "../pci/msix.ts";
import { VIRTIO_ISR_CONFIG, VIRTIO_ISR_QUEUE, VIRTIO_MSI_NO_VECTOR } from "./constants.ts";

export interface Interrupt {
  /** The device put buffers in the used ring of a queue whose MSI-X vector is `vector`. */
  signalUsedQueue(vector: number): void;
  /** The device configuration space changed (e.g. a disk was resized). */
  signalConfigChanged(): void;
  /**
   * The device hit an error it cannot recover from without a reset (2.1.2: the device sets DEVICE_NEEDS_RESET
   * and SHOULD send a configuration change notification).
   */
  signalNeedsReset(reason: string): void;
  /**
   * A device-specific event for the device kind's control hook in the VMM (the balloon's stats answer), as opaque
   * bytes; only a device in a device process has it (child_interrupt.ts carries it on the event socket).
   */
  signalDeviceEvent?(payload: Uint8Array): void;
}

/** ISR status register (4.1.4.5); a SharedArrayBuffer-backed word so vCPU threads and the device agree. */
export class IsrStatus {
  readonly #word: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.#word = new Int32Array(buffer, 0, 1);
  }

  get buffer(): SharedArrayBuffer {
    return this.#word.buffer as SharedArrayBuffer;
  }

  set(bits: number): void {
    Atomics.or(this.#word, 0, bits);
  }

  /** Returns the bits and clears them ("reading ... resets it to 0", 4.1.4.5). */
  readAndClear(): number {
    return Atomics.exchange(this.#word, 0, 0) & 0xff;
  }

  peek(): number {
    return Atomics.load(this.#word, 0) & 0xff;
  }
}

export interface TransportInterruptOptions {
  readonly isr: IsrStatus;
  /** INTx line (an irqfd on the device's legacy GSI); undefined when the device has none. */
  readonly intx?: IrqEvent;
  readonly msix?: MsixConfig;
  /** Current config_msix_vector from the common configuration. */
  readonly configVector: () => number;
  /** Sets DEVICE_NEEDS_RESET in the device status. */
  readonly setNeedsReset: (reason: string) => void;
}

/** The virtio-pci implementation of Interrupt. */
export class PciInterrupt implements Interrupt {
  constructor(readonly options: TransportInterruptOptions) {}

  #send(vector: number, isrBit: number): void {
    const { msix, isr, intx } = this.options;
    if (msix?.enabled) {
      if (vector !== VIRTIO_MSI_NO_VECTOR) msix.trigger(vector);
      return;
    }
    isr.set(isrBit);
    intx?.trigger();
  }

  signalUsedQueue(vector: number): void {
    this.#send(vector, VIRTIO_ISR_QUEUE);
  }

  signalConfigChanged(): void {
    this.#send(this.options.configVector(), VIRTIO_ISR_CONFIG);
  }

  signalNeedsReset(reason: string): void {
    this.options.setNeedsReset(reason);
    this.signalConfigChanged();
  }
}
