// The virtio-net device as the net fuzz target drives it: one to three fake TAP queues, a random subset of the
// offered features accepted (VERSION_1 always), and one driver queue activated at the index a part picks
// (receive 2i, transmit 2i + 1, control 2 * pairs). Before each notification it snapshots guest memory, the TAPs'
// state and the device's counters; a QueueRecorder sees what the device popped and used.
import { featureBit, VIRTIO_F_VERSION_1 } from "../../src/devices/virtio/constants.ts";
import { VirtioNet } from "../../src/devices/virtio/net/device.ts";
import type { NetCounters } from "../../src/devices/virtio/net/rx.ts";
import { FakeTap } from "../../src/devices/virtio/net/testing.ts";
import { usedRingSize } from "../../src/devices/virtio/split_queue.ts";
import { AVAIL_BASE, FakeDriverQueue, FakeInterrupt, USED_BASE } from "../../src/devices/virtio/testing.ts";
import { type ChainFuzzOptions, type FuzzedDevice, MEM_SIZE, QUEUE_SIZE } from "../chain_fuzzer.ts";
import { MemoryWatch, type Range } from "../memory_watch.ts";
import { QueueRecorder, type SeenChain } from "../queue_recorder.ts";
import type { Rng } from "../random.ts";

/** Most queue pairs of a fuzzed NIC: enough for VQ_PAIRS_SET to have values in range and past it. */
const MAX_FUZZ_PAIRS = 3;
/** struct virtq_avail (2.7.6): le16 flags, then le16 idx. */
const AVAIL_IDX = 2;
/** The used ring and avail_event after it: the device writes them for every chain. */
export const USED_RING: Range = { addr: USED_BASE, len: usedRingSize(QUEUE_SIZE) };

/** What a control command may change, with the counters, as it was before a notification. */
export interface NetState {
  readonly pairs: number;
  readonly offloads: readonly (number | undefined)[];
  readonly enabled: readonly boolean[];
  readonly counters: NetCounters;
}

export class NetDriver implements FuzzedDevice {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly taps: FakeTap[];
  readonly net: VirtioNet;
  /** The one queue the driver set up. */
  readonly queue: number;
  readonly recorder: QueueRecorder;
  readonly watch = new MemoryWatch(this.drv.mem, MEM_SIZE);
  before: NetState;

  /** `queueOf(pairs)`: the index of the queue to drive on a NIC with that many pairs. */
  constructor(rng: Rng, queueOf: (pairs: number) => number) {
    this.taps = Array.from({ length: 1 + rng.int(MAX_FUZZ_PAIRS) }, () => new FakeTap());
    this.net = new VirtioNet({ taps: this.taps });
    let accepted = featureBit(VIRTIO_F_VERSION_1);
    for (let bit = 0; bit < 64; bit++) if (rng.chance(0.75)) accepted |= featureBit(bit);
    this.net.ackFeatures(accepted);
    this.queue = queueOf(this.taps.length);
    this.net.activate(this.drv.mem, new FakeInterrupt(), new Map([[this.queue, this.drv.activate()]]));
    this.recorder = new QueueRecorder(this.drv.queue);
    this.before = this.state();
  }

  get features(): bigint {
    return this.net.ackedFeatures;
  }

  has(feature: number): boolean {
    return (this.features & featureBit(feature)) !== 0n;
  }

  state(): NetState {
    return {
      pairs: this.net.activePairs,
      offloads: this.taps.map((t) => t.offload),
      enabled: this.taps.map((t) => t.enabled),
      counters: { ...this.net.counters },
    };
  }

  queueNotify(queue: number): void {
    this.net.queueNotify(queue);
  }

  beforeNotify(): void {
    this.watch.snapshot();
    this.before = this.state();
  }

  /** Chains the driver made available that the device has not popped. */
  availableChains(): number {
    return (this.drv.mem.readU16(AVAIL_BASE + AVAIL_IDX) - this.drv.queue.nextAvail) & 0xffff;
  }

  /** How much a counter grew since beforeNotify. */
  grown(counter: keyof NetCounters): number {
    return this.net.counters[counter] - this.before.counters[counter];
  }

  /** Up to `limit` bytes of `chain`'s device-readable buffers, as they were before the notification. */
  readable(chain: SeenChain, limit: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let left = limit;
    for (const b of chain.buffers) {
      if (b.writable || left === 0) continue;
      const n = Math.min(b.len, left);
      parts.push(this.watch.before(b.addr, n));
      left -= n;
    }
    return Buffer.concat(parts);
  }
}

/** Adds one to `stats[name]`. */
export function count(stats: Record<string, number>, name: string): void {
  stats[name] = (stats[name] ?? 0) + 1;
}

/** One part of the net target: its chains, its queue and its checks (net_frames.ts runs each with the rest). */
export type NetPart = Pick<
  ChainFuzzOptions<NetDriver>,
  "shape" | "expectedFailures" | "newDevice" | "prepare" | "held" | "check"
>;
