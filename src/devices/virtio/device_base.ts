// The lifecycle bookkeeping every VirtioDevice shares (see virtio_device.ts): holding the queues and interrupt
// while active, dropping them on reset, deferring notifications while asleep. A device extends it and
// implements `processQueue(index, queue)` and its config space.
import { GuestLog, type LogSink } from "../../base/guest_log.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  featureBit,
} from "./constants.ts";
import type { Interrupt } from "./interrupt.ts";
import type { Queue } from "./split_queue.ts";
import type { DeviceLifecycle, VirtioDevice } from "./virtio_device.ts";

/** Transport and ring features every device here offers. */
export const BASE_FEATURES =
  featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_F_INDIRECT_DESC);

export interface ActiveState {
  readonly mem: GuestMemory;
  readonly interrupt: Interrupt;
  readonly queues: ReadonlyMap<number, Queue>;
}

export abstract class VirtioDeviceBase implements VirtioDevice {
  abstract readonly debugLabel: string;
  abstract readonly deviceType: number;
  abstract readonly queueMaxSizes: readonly number[];
  protected abstract readonly log: LogSink;

  #state: DeviceLifecycle = "new";
  #active: ActiveState | undefined;
  #acked = 0n;
  readonly #deferred = new Set<number>();
  #guestLog: GuestLog | undefined;

  abstract features(): bigint;
  abstract readConfig(offset: number, data: Uint8Array): void;
  writeConfig(_offset: number, _data: Uint8Array): void {}

  /** Processes queue `index` (pop -> handle -> add_used -> interrupt); called only while active. */
  protected abstract processQueue(index: number, queue: Queue, active: ActiveState): void;

  /** Rate-limited, escaped lines for what the guest can trigger (base/guest_log.ts), over `log`. */
  protected get guestLog(): GuestLog {
    this.#guestLog ??= new GuestLog(this.log, this.debugLabel);
    return this.#guestLog;
  }

  get lifecycle(): DeviceLifecycle {
    return this.#state;
  }

  get ackedFeatures(): bigint {
    return this.#acked;
  }

  protected get active(): ActiveState | undefined {
    return this.#state === "active" ? this.#active : undefined;
  }

  ackFeatures(features: bigint): void {
    this.#acked = features & this.features();
  }

  activate(mem: GuestMemory, interrupt: Interrupt, queues: ReadonlyMap<number, Queue>): void {
    if (this.#state === "active" || this.#state === "asleep")
      throw new Error(`${this.debugLabel} is already active`);
    this.#active = { mem, interrupt, queues };
    this.#state = "active";
    this.onActivate(this.#active);
  }

  /**
   * A kernel back end (vhost) used buffers of queue `index` and signalled its call relay (vhost/vrings.ts): the
   * transport's used-buffer notification for the queue's vector (the ISR bit and INTx without MSI-X). Also while
   * asleep: the buffers were used before the kernel stopped, and the driver must still learn of them. Dropped
   * after a reset (the queue is gone).
   */
  relayUsedQueue(index: number): void {
    if (this.#state !== "active" && this.#state !== "asleep") return;
    const queue = this.#active?.queues.get(index);
    if (queue) this.#active!.interrupt.signalUsedQueue(queue.vector);
  }

  /** Hook for devices with work to do at activation (e.g. draining buffered input). */
  protected onActivate(_active: ActiveState): void {}

  queueNotify(index: number): void {
    if (this.#state === "asleep") {
      this.#deferred.add(index);
      return;
    }
    const active = this.active;
    const queue = active?.queues.get(index);
    if (!active || !queue) return;
    try {
      this.processQueue(index, queue, active);
    } catch (e) {
      this.guestLog.warn("queue failed", `queue ${index}: ${(e as Error).message}`);
    }
  }

  reset(): void {
    this.#active = undefined;
    this.#deferred.clear();
    this.#acked = 0n;
    this.#state = "reset";
  }

  sleep(): void {
    if (this.#state === "active") this.#state = "asleep";
  }

  wake(): void {
    if (this.#state !== "asleep") return;
    this.#state = "active";
    const pending = [...this.#deferred];
    this.#deferred.clear();
    for (const i of pending) this.queueNotify(i);
  }
}
