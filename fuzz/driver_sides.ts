// The driver sides of the queues a target drives, in one guest memory, each with rings of its own, and what the
// target's checks read back from each queue: the chains the device popped and the used entries it added
// (queue_recorder.ts).
import { descTableSize, type Queue, usedRingSize } from "../src/devices/virtio/split_queue.ts";
import {
  ALL_RING_FEATURES,
  AVAIL_BASE,
  DESC_BASE,
  FakeDriverQueue,
  USED_BASE,
} from "../src/devices/virtio/testing.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";
import { QUEUE_SIZE } from "./chain_fuzzer.ts";
import { pairWithUsed, QueueRecorder, type SeenChain, type UsedEntry } from "./queue_recorder.ts";

/** Bytes between one queue's ring and the next one's, so that the largest ring fits. */
const RING_STRIDE = Math.max(descTableSize(QUEUE_SIZE), usedRingSize(QUEUE_SIZE));

export class DriverSides {
  /** The driver side of each queue (FuzzedDevice.drivers); the first one's rings are at the default places. */
  readonly drivers: ReadonlyMap<number, FakeDriverQueue>;
  readonly #recorders: ReadonlyMap<number, QueueRecorder>;

  /** Driver sides of queues `indices` on `mem`. */
  constructor(mem: GuestMemory, indices: readonly number[]) {
    const rings = (k: number) => ({
      desc: DESC_BASE + k * RING_STRIDE,
      avail: AVAIL_BASE + k * RING_STRIDE,
      used: USED_BASE + k * RING_STRIDE,
    });
    const sides = indices.map(
      (index, k) => [index, new FakeDriverQueue(QUEUE_SIZE, ALL_RING_FEATURES, 0, mem, rings(k))] as const,
    );
    this.drivers = new Map(sides);
    this.#recorders = new Map(sides.map(([index, drv]) => [index, new QueueRecorder(drv.queue)]));
  }

  /** The activated device-side queues, to pass to VirtioDevice.activate. */
  activate(): Map<number, Queue> {
    return new Map([...this.drivers].map(([index, drv]) => [index, drv.activate()]));
  }

  /** What the device popped from `queue` and used since the last look. */
  take(queue: number): { popped: SeenChain[]; used: UsedEntry[] } {
    return this.#recorders.get(queue)!.take();
  }

  /** The chains popped, each with the used entry the device gave it; a finding when they do not pair up. */
  poppedAndUsed(queue: number): ReturnType<typeof pairWithUsed> {
    const { popped, used } = this.take(queue);
    return pairWithUsed(popped, used);
  }
}
