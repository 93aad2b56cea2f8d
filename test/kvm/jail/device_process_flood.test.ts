// A guest that keeps a queue full must not keep the device from answering its config space (issue 9): the device
// process handles at most 64 chains per wakeup and answers its control socket in between. This thread plays a
// driver that hands every used buffer straight back (the queue never runs dry) while a Worker reads device config.
import { afterEach, expect, test } from "bun:test";
import { eventfdWrite } from "../../../ffi/libc.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import type { ConfigReaderInit } from "./config_reader_worker.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { makeRig, type Rig, start } from "./helpers.ts";

// A full rng ring of 16 KiB buffers takes the device several milliseconds to fill, longer than this thread's
// naps, so the ring never runs dry; one batch of 64 takes a quarter of that.
const QUEUE_SIZE = 256;
const BUFFER_BYTES = 16384;
const MEM_BYTES = 8 << 20;
const READS = 50;
const READ_GAP_MS = 5;
const WARM_UP_MS = 1000;
/**
 * A starved reader would wait until the flood stops (the 30 s give-up below); an answered one takes milliseconds.
 * The bound is loose because the rig's emulated CPU (this tier runs there on hosts without /dev/kvm) can stall any
 * process for a few hundred milliseconds.
 */
const ANSWERED_WITHIN_MS = 2000;

let rig: Rig | undefined;
let p: DeviceProcess | undefined;
afterEach(async () => {
  await p?.stop();
  rig?.dispose();
});

test("config reads are answered within 2 s, not starved, while another thread keeps the queue flooded", async () => {
  rig = makeRig(1, 2, MEM_BYTES);
  p = await start(rig, "rng");
  const q = new FakeDriverQueue(QUEUE_SIZE, ALL_RING_FEATURES, 0, rig.mem);
  q.queue.vector = 0;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig.mem, new FakeInterrupt(), new Map([[0, q.queue]]));
  for (let i = 0; i < QUEUE_SIZE; i++) q.addChain([{ len: BUFFER_BYTES, writable: true }]);
  const latencies = new SharedArrayBuffer(8 * READS);
  const done = new SharedArrayBuffer(4);
  const reader = new Worker(new URL("./config_reader_worker.ts", import.meta.url).href);
  const init: ConfigReaderInit = {
    proxy: p.device.share(),
    count: READS,
    gapMs: READ_GAP_MS,
    latencies,
    done,
    startDelayMs: WARM_UP_MS,
  };

  reader.postMessage(init);
  const kick = rig.queueEvents[0]!;
  eventfdWrite(kick);
  let seen = 0;
  let recycled = 0;
  const giveUp = performance.now() + 30_000;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (Atomics.load(new Int32Array(done), 0) === 0 && performance.now() < giveUp) {
    const used = q.usedIdx();
    if (used === seen) {
      // Nothing came back: the whole ring is still queued, so a nap leaves the CPU to the device and the reader
      // (on a small or emulated machine) without letting the device run dry.
      Atomics.wait(nap, 0, 0, 1);
      continue;
    }
    for (; seen !== used; seen = (seen + 1) & 0xffff, recycled++) q.publish(q.usedElem(seen % QUEUE_SIZE).id);
    eventfdWrite(kick);
  }
  reader.terminate();

  const times = [...new Float64Array(latencies)];
  console.log(`config read latency under the flood: max ${Math.max(...times).toFixed(1)} ms`);
  expect(times.filter((t) => t < 0 || t >= ANSWERED_WITHIN_MS)).toEqual([]);
  // The queue really was busy while the reads were made: many batches' worth of chains went round.
  expect(recycled).toBeGreaterThan(20 * 64);
});
