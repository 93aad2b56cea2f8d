import { describe, expect, test } from "bun:test";
import { MAX_CHAINS_PER_BATCH, processQueue } from "../../../src/devices/virtio/process_queue.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

const quiet = { warn() {} };

/** An active queue of size 128 holding `count` one-buffer chains. */
function queueWith(count: number): FakeDriverQueue {
  const q = new FakeDriverQueue(128, ALL_RING_FEATURES);
  q.activate();
  for (let i = 0; i < count; i++) q.addChain([{ len: 8, writable: true }]);
  return q;
}

describe("processQueue batches", () => {
  test("one call handles at most MAX_CHAINS_PER_BATCH chains and marks the queue", () => {
    const q = queueWith(100);

    const used = processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    expect([used, q.usedIdx(), q.queue.takeBatchLimited()]).toEqual([64, 64, true]);
  });

  test("the next call takes the rest and leaves the queue unmarked", () => {
    const q = queueWith(100);
    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);
    q.queue.takeBatchLimited();

    const used = processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    expect([used, q.usedIdx(), q.queue.takeBatchLimited()]).toEqual([36, 100, false]);
  });

  test("a batch that empties the queue exactly at the limit does not mark it", () => {
    const q = queueWith(MAX_CHAINS_PER_BATCH);

    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    expect(q.queue.takeBatchLimited()).toBe(false);
  });

  test("each batch that used chains signals the interrupt once", () => {
    const q = queueWith(100);
    q.queue.vector = 3;
    const interrupt = new FakeInterrupt();

    processQueue(q.queue, interrupt, () => 0, quiet);

    expect(interrupt.usedQueueVectors).toEqual([3]);
  });
});
