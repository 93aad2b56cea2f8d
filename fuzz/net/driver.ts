// The virtio-net device as the net fuzz target drives it: one to three fake TAP queues, a random subset of the
// offered features accepted (VERSION_1 always), and one driver queue activated at the index a part picks
// (receive 2i, transmit 2i + 1, control 2 * pairs). Before each notification it snapshots guest memory, the TAPs'
// state and the device's counters; a QueueRecorder (driver_sides.ts) sees what the device popped and used.
import { featureBit, VIRTIO_F_VERSION_1 } from "../../src/devices/virtio/constants.ts";
import { VirtioNet } from "../../src/devices/virtio/net/device.ts";
import type { NetCounters } from "../../src/devices/virtio/net/rx.ts";
import { FakeTap } from "../../src/devices/virtio/net/testing.ts";
import { usedRingSize } from "../../src/devices/virtio/split_queue.ts";
import {
  AVAIL_BASE,
  type FakeDriverQueue,
  FakeInterrupt,
  USED_BASE,
} from "../../src/devices/virtio/testing.ts";
import { GuestMemory } from "../../src/vm_memory/guest_memory.ts";
import { type ChainFuzzOptions, type FuzzedDevice, MEM_SIZE, QUEUE_SIZE } from "../chain_fuzzer.ts";
import { DriverSides } from "../driver_sides.ts";
import { MemoryWatch } from "../memory_watch.ts";
import type { SeenChain, UsedEntry } from "../queue_recorder.ts";
import type { Rng } from "../random.ts";
import type { Range } from "../ranges.ts";

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
  readonly mem = GuestMemory.anonymous([{ guestAddr: 0, size: MEM_SIZE }]);
  readonly taps: FakeTap[];
  readonly net: VirtioNet;
  /** The one queue the driver set up, and its driver side. */
  readonly queue: number;
  readonly sides: DriverSides;
  readonly drv: FakeDriverQueue;
  readonly watch = new MemoryWatch(this.mem, MEM_SIZE);
  before: NetState;

  /** `queueOf(pairs)`: the index of the queue to drive on a NIC with that many pairs. */
  constructor(rng: Rng, queueOf: (pairs: number) => number) {
    this.taps = Array.from({ length: 1 + rng.int(MAX_FUZZ_PAIRS) }, () => new FakeTap());
    this.net = new VirtioNet({ taps: this.taps });
    let accepted = featureBit(VIRTIO_F_VERSION_1);
    for (let bit = 0; bit < 64; bit++) if (rng.chance(0.75)) accepted |= featureBit(bit);
    this.net.ackFeatures(accepted);
    this.queue = queueOf(this.taps.length);
    this.sides = new DriverSides(this.mem, [this.queue]);
    this.drv = this.sides.drivers.get(this.queue)!;
    this.net.activate(this.mem, new FakeInterrupt(), this.sides.activate());
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

  /** What the device popped and used since the last look. */
  take(): { popped: SeenChain[]; used: UsedEntry[] } {
    return this.sides.take(this.queue);
  }
}

/** One part of the net target: its chains, its queue and its checks (net_frames.ts runs each with the rest). */
export type NetPart = Pick<
  ChainFuzzOptions<NetDriver>,
  "shape" | "expectedFailures" | "newDevice" | "prepare" | "held" | "check"
>;
