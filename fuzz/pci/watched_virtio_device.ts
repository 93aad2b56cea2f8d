// A device model seen through what the virtio-pci transport hands it and what it signals back. Checked: the
// features the transport acks were offered; at activation every queue is enabled, has a size the device allows
// (a power of two up to its maximum) and rings in guest RAM with the alignment virtio 1.2 section 2.7 requires, so
// the transport refused every other setup; a used-buffer notification names a vector of the MSI-X table, or none.
import { VIRTIO_MSI_NO_VECTOR } from "../../src/devices/virtio/constants.ts";
import type { Interrupt } from "../../src/devices/virtio/interrupt.ts";
import {
  AVAIL_ALIGN,
  availRingSize,
  DESC_ALIGN,
  descTableSize,
  type Queue,
  USED_ALIGN,
  usedRingSize,
} from "../../src/devices/virtio/split_queue.ts";
import type { DeviceLifecycle, VirtioDevice } from "../../src/devices/virtio/virtio_device.ts";
import type { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import type { Observer } from "../observer.ts";

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Why queue `q` (of a device allowing `maxSize`) must not be active, or undefined. */
export function queueProblem(mem: GuestMemory, maxSize: number | undefined, q: Queue): string | undefined {
  if (maxSize === undefined) return "the device has no such queue";
  if (!q.ready) return "it was not enabled";
  if (!isPowerOfTwo(q.size) || q.size > maxSize) return `size ${q.size} (the device allows up to ${maxSize})`;
  const rings: [string, number, number, number][] = [
    ["descriptor table", q.descTable, descTableSize(q.size), DESC_ALIGN],
    ["available ring", q.availRing, availRingSize(q.size), AVAIL_ALIGN],
    ["used ring", q.usedRing, usedRingSize(q.size), USED_ALIGN],
  ];
  for (const [name, addr, len, align] of rings) {
    if (!mem.isValidRange(addr, len))
      return `${name} 0x${addr.toString(16)}+0x${len.toString(16)} outside RAM`;
    if (addr % align !== 0) return `${name} 0x${addr.toString(16)} not ${align}-byte aligned`;
  }
  return undefined;
}

export class WatchedVirtioDevice implements VirtioDevice {
  readonly debugLabel: string;
  readonly deviceType: number;
  readonly queueMaxSizes: readonly number[];
  /** Size of the MSI-X table of the transport in front (set once the transport exists). */
  msixTableSize = 0;

  constructor(
    readonly inner: VirtioDevice,
    readonly observer: Observer,
  ) {
    this.debugLabel = inner.debugLabel;
    this.deviceType = inner.deviceType;
    this.queueMaxSizes = inner.queueMaxSizes;
  }

  /** Where the model says it is in its lifecycle (VirtioDeviceBase keeps one), if it says. */
  get lifecycle(): DeviceLifecycle | undefined {
    return (this.inner as Partial<{ readonly lifecycle: DeviceLifecycle }>).lifecycle;
  }

  features(): bigint {
    return this.inner.features();
  }

  ackFeatures(features: bigint): void {
    const unoffered = features & ~this.inner.features();
    if (unoffered !== 0n)
      this.observer.finding(
        `${this.debugLabel}: acked features 0x${unoffered.toString(16)} it never offered`,
      );
    this.inner.ackFeatures(features);
  }

  readConfig(offset: number, data: Uint8Array): void {
    this.inner.readConfig(offset, data);
  }

  writeConfig(offset: number, data: Uint8Array): void {
    this.inner.writeConfig(offset, data);
  }

  activate(mem: GuestMemory, interrupt: Interrupt, queues: ReadonlyMap<number, Queue>): void {
    for (const [index, q] of queues) {
      const problem = queueProblem(mem, this.queueMaxSizes[index], q);
      if (problem) this.observer.finding(`${this.debugLabel}: queue ${index} activated though ${problem}`);
    }
    this.observer.tally("activations");
    this.observer.tally("queuesActivated", queues.size);
    this.inner.activate(mem, this.#watched(interrupt), queues);
  }

  #watched(interrupt: Interrupt): Interrupt {
    return {
      signalUsedQueue: (vector) => {
        this.observer.tally("usedNotifications");
        if (vector !== VIRTIO_MSI_NO_VECTOR && vector >= this.msixTableSize)
          this.observer.finding(
            `${this.debugLabel}: used-buffer notification on vector ${vector}, the table has ${this.msixTableSize}`,
          );
        interrupt.signalUsedQueue(vector);
      },
      signalConfigChanged: () => interrupt.signalConfigChanged(),
      signalNeedsReset: (reason) => interrupt.signalNeedsReset(reason),
      signalDeviceEvent: (payload) => interrupt.signalDeviceEvent?.(payload),
    };
  }

  queueNotify(index: number): void {
    this.observer.tally("queueNotifies");
    this.inner.queueNotify(index);
  }

  reset(): void {
    this.inner.reset();
  }
}
