// The driver sides of several queues of one device in one guest memory, each with rings of its own, and what a
// target's checks read back from each queue: the chains the device popped and the used elements it added.
import { VIRTQ_DESC_SIZE, VIRTQ_USED_ELEM_SIZE } from "../src/devices/virtio/constants.ts";
import type { Queue } from "../src/devices/virtio/split_queue.ts";
import {
  ALL_RING_FEATURES,
  AVAIL_BASE,
  DESC_BASE,
  FakeDriverQueue,
  USED_BASE,
} from "../src/devices/virtio/testing.ts";
import type { GuestMemory } from "../src/vm_memory/guest_memory.ts";
import { QUEUE_SIZE } from "./chain_fuzzer.ts";
import { type PoppedChain, PoppedChains, pairWithUsed, type UsedElement } from "./popped_chains.ts";

/** Bytes between one queue's ring and the next one's, so that the largest ring fits (the used ring has 6 more). */
const RING_STRIDE = Math.max(QUEUE_SIZE * VIRTQ_DESC_SIZE, 6 + QUEUE_SIZE * VIRTQ_USED_ELEM_SIZE);

/** Reads a driver side's used ring forward: the elements the device added since the last call. */
class UsedReader {
  #seen = 0;

  constructor(readonly drv: FakeDriverQueue) {}

  take(): UsedElement[] {
    const out: UsedElement[] = [];
    for (const end = this.drv.usedIdx(); this.#seen !== end; this.#seen = (this.#seen + 1) & 0xffff)
      out.push(this.drv.usedElem(this.#seen));
    return out;
  }
}

export class DriverSides {
  /** The driver side of each queue (FuzzedDevice.drivers). */
  readonly drivers: ReadonlyMap<number, FakeDriverQueue>;
  readonly #popped: ReadonlyMap<number, PoppedChains>;
  readonly #used: ReadonlyMap<number, UsedReader>;

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
    this.#popped = new Map(sides.map(([index, drv]) => [index, new PoppedChains(drv.queue)]));
    this.#used = new Map(sides.map(([index, drv]) => [index, new UsedReader(drv)]));
  }

  /** The activated device-side queues, to pass to VirtioDevice.activate. */
  activate(): Map<number, Queue> {
    return new Map([...this.drivers].map(([index, drv]) => [index, drv.activate()]));
  }

  /** The chains the device popped from `queue` since the last look. */
  popped(queue: number): PoppedChain[] {
    return this.#popped.get(queue)!.take();
  }

  /** The same, each with the used element the device gave it; a finding when they do not pair up. */
  poppedAndUsed(queue: number): ReturnType<typeof pairWithUsed> {
    return pairWithUsed(this.popped(queue), this.#used.get(queue)!.take());
  }
}
