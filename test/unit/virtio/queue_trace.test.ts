import { describe, expect, spyOn, test } from "bun:test";
import { ChainBuffers } from "../../../src/devices/virtio/descriptor_chain.ts";
import {
  type InFlight,
  MAX_CHAINS_PER_BATCH,
  processQueue,
  processQueueBuffers,
} from "../../../src/devices/virtio/process_queue.ts";
import { DeviceQueueTrace } from "../../../src/devices/virtio/queue_trace.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

const quiet = { warn() {} };
const SLICE_MS = 50;

/** A device trace on a clock the test moves (ms since the epoch), and an active queue of size 128 traced by it. */
function traced(chains: number, maxPending?: number) {
  const clock = { ms: 1000 };
  const device = new DeviceQueueTrace(SLICE_MS, () => clock.ms, maxPending);
  const q = new FakeDriverQueue(128, ALL_RING_FEATURES);
  q.activate();
  q.queue.traceWith(device.forQueue(0, q.queue.maxSize));
  for (let i = 0; i < chains; i++) q.addChain([{ len: 8, writable: true }]);
  return { clock, device, q };
}

describe("queue trace latency", () => {
  test("a chain popped outside a notification is timed from its pop to its used element", () => {
    const { clock, device, q } = traced(1);

    processQueue(q.queue, new FakeInterrupt(), () => ((clock.ms += 2), 0), quiet);

    expect(device.take().slices).toEqual([
      { queue: 0, startMs: 1000, requests: 1, totalUs: 2000, maxUs: 2000 },
    ]);
  });

  test("a chain popped during a notification is timed from the wake", () => {
    const { clock, device, q } = traced(1);
    const trace = q.queue.trace!;
    trace.notified(997);

    processQueue(q.queue, new FakeInterrupt(), () => ((clock.ms += 1), 0), quiet);
    trace.settled(q.queue.batchLimited);

    expect(device.take().slices[0]!.totalUs).toBe(4000);
  });

  test("chains left by the batch limit are timed from the first wake", () => {
    const { clock, device, q } = traced(MAX_CHAINS_PER_BATCH + 6);
    const trace = q.queue.trace!;
    trace.notified(1000);
    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);
    trace.settled(q.queue.takeBatchLimited());
    clock.ms = 1010;
    trace.notified(1009);

    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    // The 6 chains of the second round count from the wake at 1000 (10 ms), not from the re-signal at 1009.
    expect(device.take().slices[0]).toMatchObject({ requests: 70, maxUs: 10_000 });
  });

  test("a request started in flight is timed until its completion", () => {
    const { clock, device, q } = traced(3);
    const started: number[] = [];
    const ring: InFlight<ChainBuffers> = {
      start: (chain) => (started.push(chain.head), true),
      get count() {
        return started.length;
      },
      complete: (done) => {
        clock.ms += 7;
        for (const head of started.splice(0)) done(head, 0);
      },
    };

    processQueueBuffers(q.queue, new FakeInterrupt(), new ChainBuffers(q.mem), () => 0, quiet, ring);

    expect(device.take().slices).toEqual([
      { queue: 0, startMs: 1000, requests: 3, totalUs: 21_000, maxUs: 7000 },
    ]);
  });

  test("a head used twice counts its second use as a request of no duration", () => {
    const { clock, device, q } = traced(1);
    processQueue(q.queue, new FakeInterrupt(), () => ((clock.ms += 3), 0), quiet);

    q.queue.addUsed(0, 0);

    expect(device.take().slices[0]).toMatchObject({ requests: 2, totalUs: 3000, maxUs: 3000 });
  });
});

describe("queue trace slices", () => {
  test("completions in two slices become two slices with their own counts, totals and maxima", () => {
    const { clock, device, q } = traced(3);
    const steps = [1, 2, 60];

    processQueue(q.queue, new FakeInterrupt(), () => ((clock.ms += steps.shift()!), 0), quiet);

    // Pops at 1000, 1001, 1003; used at 1001 and 1003 (slice 1000..1050) and at 1063 (slice 1050..1100).
    expect(device.take().slices).toEqual([
      { queue: 0, startMs: 1000, requests: 2, totalUs: 3000, maxUs: 2000 },
      { queue: 0, startMs: 1050, requests: 1, totalUs: 60_000, maxUs: 60_000 },
    ]);
  });

  test("a slice still running is not taken before it has ended", () => {
    const { device, q } = traced(1);
    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    expect(device.take(1049).slices).toEqual([]);
    expect(device.take(1050).slices).toHaveLength(1);
  });

  test("a quiet device has nothing to send once its slices are taken", () => {
    const { device, q } = traced(1);
    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);
    const before = device.hasData;

    device.take(2000);

    expect([before, device.hasData]).toEqual([true, false]);
  });

  test("slices past the pending cap are dropped and counted", () => {
    const { clock, device, q } = traced(5, 2);

    processQueue(q.queue, new FakeInterrupt(), () => ((clock.ms += SLICE_MS), 0), quiet);
    const taken = device.take();

    expect([taken.slices.length, taken.dropped]).toEqual([2, 3]);
  });

  test("a new activation keeps the open slice of the previous one", () => {
    const { device, q } = traced(1);
    processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

    device.forQueue(0, 128);

    expect(device.take(1000).slices).toHaveLength(1);
  });

  test("a slice length that is not positive is refused", () => {
    expect(() => new DeviceQueueTrace(0)).toThrow(/not positive/);
  });
});

describe("queue trace off", () => {
  test("a queue without a trace reads no clock while chains are processed", () => {
    const q = new FakeDriverQueue(16, ALL_RING_FEATURES);
    q.activate();
    for (let i = 0; i < 4; i++) q.addChain([{ len: 8, writable: true }]);
    const now = spyOn(performance, "now");

    try {
      processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

      expect([q.usedIdx(), now.mock.calls.length]).toEqual([4, 0]);
    } finally {
      now.mockRestore();
    }
  });

  test("a traced queue reads the clock for each pop and used element", () => {
    const q = new FakeDriverQueue(16, ALL_RING_FEATURES);
    q.activate();
    q.queue.traceWith(new DeviceQueueTrace(SLICE_MS).forQueue(0, 16));
    for (let i = 0; i < 4; i++) q.addChain([{ len: 8, writable: true }]);
    const now = spyOn(performance, "now");

    try {
      processQueue(q.queue, new FakeInterrupt(), () => 0, quiet);

      expect(now.mock.calls.length).toBe(8);
    } finally {
      now.mockRestore();
    }
  });
});
