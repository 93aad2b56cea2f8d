// The part every request-queue fuzz target shares: a hostile driver's descriptor chains (direct or through an
// indirect table; random addresses, lengths, flags and links, mostly shaped as the real driver builds them) over
// buffer slots the target fills, one notification per chain, and the checks: the device never throws, every
// published chain is used exactly once, no request fails with an error other than the expected guest-input errors,
// and memory stays bounded. A target says what its requests look like (ChainShape) and fills the slots; a device
// with several guest-written queues gets each chain on a queue the target picks. A target may check more around
// each notification (beforeNotify, check), and a queue whose device keeps chains until it has something to put in
// them (a receive queue, the balloon's stats queue) says how many it may keep (held).
import type { logger } from "../src/base/log.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../src/devices/virtio/constants.ts";
import { DATA_BASE, type FakeDriverQueue } from "../src/devices/virtio/testing.ts";
import { captureDeviceLog } from "./device_log.ts";
import { MemoryBound } from "./memory_bound.ts";
import { type FuzzReport, Rng, recordFailure } from "./random.ts";

export const QUEUE_SIZE = 16;
export const MEM_SIZE = 1 << 20;
/** Buffers the chains point at: SLOTS slots of SLOT_SIZE bytes from DATA_BASE (slot 0 holds the request). */
export const SLOT_SIZE = 0x4000;
export const SLOTS = 8;
/** Where indirect tables are written (above the slots). */
export const INDIRECT_TABLE = 0x80000;
/** Iterations one device serves before the target makes a new one (other options, fresh state), by default. */
const ITERATIONS_PER_DEVICE = 5000;

/** What a target's chains look like. */
export interface ChainShape {
  /** Lengths worth trying besides random ones (header sizes and their neighbours). */
  readonly interestingLengths: readonly number[];
  /** Data buffers are 512 * (1 + a number below this) bytes. */
  readonly dataSectors: number;
  /** At most this many descriptors in an indirect table, and in a direct chain. */
  readonly maxIndirect: number;
  readonly maxDirect: number;
  /** How likely a plausible descriptor after the first turns device-writable. */
  readonly writableChance: number;
  /** How likely a plausible chain's last descriptor is device-writable (a status byte); 1 if unset. */
  readonly lastWritableChance?: number;
  /** Buffer addresses worth trying besides the slots and random ones (other RAM, edges of holes). */
  readonly otherAddresses?: readonly number[];
  /** The length of a plausible chain's descriptor `i` of `n`; `anyLength` draws one of the random lengths. */
  plausibleLength(rng: Rng, i: number, n: number, anyLength: () => number): number;
  /** Where a plausible descriptor `i` points; by default at the start of slot `i`. */
  plausibleAddress?(rng: Rng, i: number): number;
  /**
   * Whether a plausible descriptor `i` of `n` is device-writable. By default a request's: readable ones first,
   * then writable ones (each later one turns writable with writableChance), the last writable with
   * lastWritableChance.
   */
  plausiblyWritable?(rng: Rng, i: number, n: number): boolean;
}

/** A device under test on fake driver queues. */
export interface FuzzedDevice {
  /** The driver side of the target's one queue. */
  readonly drv?: FakeDriverQueue;
  /** Or, when the chains go to several queues, the driver side of each (rings apart in one memory). */
  readonly drivers?: ReadonlyMap<number, FakeDriverQueue>;
  queueNotify(queue: number): void;
}

export interface ChainFuzzOptions<D extends FuzzedDevice> {
  readonly target: string;
  readonly seed: number;
  readonly iterations: number;
  /** The device's logger, whose records are counted and checked (device_log.ts). */
  readonly log: ReturnType<typeof logger>;
  readonly expectedFailures: readonly (string | RegExp)[];
  /** What the chains look like: one shape, or one for each queue. */
  readonly shape: ChainShape | ((device: D, queue: number) => ChainShape);
  /** The queue the chains go to, or how the next chain's queue is picked (one of FuzzedDevice.drivers). */
  readonly queue: number | ((rng: Rng, device: D) => number);
  /** Iterations one device serves (default 5000). */
  readonly iterationsPerDevice?: number;
  newDevice(rng: Rng): D;
  /** Before each chain: fills the slots (and may poke the device, e.g. its configuration space). */
  prepare(rng: Rng, device: D, stats: Record<string, number>, queue: number): void;
  /** Once the chain is published on `queue`, just before the notification (e.g. to snapshot what check compares). */
  beforeNotify?(device: D, queue: number): void;
  /**
   * Chains of `queue` the device may rightly keep unused after a notification (buffers it holds until it has
   * something to put in them); none if unset.
   */
  held?(device: D, queue: number): number;
  /** The target's own checks after each notification of `queue`: a finding, or undefined. */
  check?(device: D, queue: number, stats: Record<string, number>): string | undefined;
}

function address(rng: Rng, shape: ChainShape): number | bigint {
  const kind = rng.int(10);
  if (kind === 0) return rng.u64();
  if (kind === 1) return MEM_SIZE - rng.int(64);
  if (kind === 2 && shape.otherAddresses)
    return rng.pick(shape.otherAddresses) + rng.pick([0, 0, -8, 8, 0x1000]);
  return DATA_BASE + rng.int(SLOTS) * SLOT_SIZE + (rng.chance(0.8) ? 0 : rng.int(SLOT_SIZE));
}

function length(rng: Rng, shape: ChainShape): number {
  switch (rng.int(6)) {
    case 0:
      return rng.u32();
    case 1:
      return rng.pick(shape.interestingLengths);
    default:
      return 512 * (rng.int(shape.dataSectors) + 1);
  }
}

/** Draws no number when the shape does not say, so the other targets' seeds still reproduce their old runs. */
function lastWritable(rng: Rng, shape: ChainShape): boolean {
  return shape.lastWritableChance === undefined || rng.chance(shape.lastWritableChance);
}

/** Writes a chain of `n` descriptors into `table` (index `first` on): request slot first, writable ones last. */
function writeChain(
  rng: Rng,
  drv: FakeDriverQueue,
  shape: ChainShape,
  table: number,
  first: number,
  n: number,
  wrap: number,
): void {
  let writable = false;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const plausible = rng.chance(0.85);
    const slot = DATA_BASE + Math.min(i, SLOTS - 1) * SLOT_SIZE;
    const addr = plausible ? (shape.plausibleAddress?.(rng, i) ?? slot) : address(rng, shape);
    if (plausible && shape.plausiblyWritable) writable = shape.plausiblyWritable(rng, i, n);
    else if (plausible && (last ? lastWritable(rng, shape) : i > 0 && rng.chance(shape.writableChance)))
      writable = true;
    let flags = (writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);
    if (rng.chance(0.03)) flags = rng.int(8);
    const anyLength = () => length(rng, shape);
    const len = plausible ? shape.plausibleLength(rng, i, n, anyLength) : anyLength();
    const index = (first + i) % wrap;
    const next = rng.chance(0.95) ? (index + 1) % wrap : rng.int(wrap + 2);
    drv.writeDescriptor(table, index, { addr, len, flags, next });
  }
}

/** Publishes one random chain at a random head; counts indirect ones. */
function publishChain(
  rng: Rng,
  drv: FakeDriverQueue,
  shape: ChainShape,
  stats: Record<string, number>,
): void {
  const head = rng.int(QUEUE_SIZE);
  if (rng.chance(0.3)) {
    stats.indirect = (stats.indirect ?? 0) + 1;
    const n = rng.int(shape.maxIndirect) + 1;
    writeChain(rng, drv, shape, INDIRECT_TABLE, 0, n, n);
    drv.writeDescriptor(drv.rings.desc, head, {
      addr: rng.chance(0.9) ? INDIRECT_TABLE : address(rng, shape),
      len: rng.chance(0.9) ? n * 16 : length(rng, shape),
      flags: VIRTQ_DESC_F_INDIRECT | (rng.chance(0.05) ? VIRTQ_DESC_F_NEXT : 0),
      next: 0,
    });
  } else writeChain(rng, drv, shape, drv.rings.desc, head, rng.int(shape.maxDirect) + 1, QUEUE_SIZE);
  drv.publish(head);
}

function driverOf(device: FuzzedDevice, queue: number): FakeDriverQueue {
  const drv = device.drivers?.get(queue) ?? device.drv;
  if (!drv) throw new Error(`the fuzzed device has no driver side for queue ${queue}`);
  return drv;
}

export function runChainFuzz<D extends FuzzedDevice>(o: ChainFuzzOptions<D>): FuzzReport {
  const rng = new Rng(o.seed);
  const failures: string[] = [];
  const stats: Record<string, number> & { refused: number; failed: number } = {
    indirect: 0,
    refused: 0,
    failed: 0,
  };
  let iteration = 0;
  const restoreLog = captureDeviceLog(o.log, o.expectedFailures, stats, (text) =>
    recordFailure(failures, `iteration ${iteration}: unexpected failure: ${text}`),
  );
  const memory = new MemoryBound();
  let device: D | undefined;
  /** Chains published on each driver side of the current device. */
  let published = new Map<FakeDriverQueue, number>();
  try {
    for (iteration = 0; iteration < o.iterations; iteration++) {
      if (iteration % (o.iterationsPerDevice ?? ITERATIONS_PER_DEVICE) === 0) {
        device = o.newDevice(rng);
        published = new Map();
      }
      const d = device!;
      const queue = typeof o.queue === "number" ? o.queue : o.queue(rng, d);
      const drv = driverOf(d, queue);
      o.prepare(rng, d, stats, queue);
      publishChain(rng, drv, typeof o.shape === "function" ? o.shape(d, queue) : o.shape, stats);
      const count = ((published.get(drv) ?? 0) + 1) & 0xffff;
      published.set(drv, count);
      o.beforeNotify?.(d, queue);
      try {
        d.queueNotify(queue);
      } catch (e) {
        recordFailure(failures, `iteration ${iteration}: queueNotify threw ${(e as Error).stack}`);
      }
      const unused = (count - drv.usedIdx()) & 0xffff;
      if (unused > (o.held?.(d, queue) ?? 0))
        recordFailure(
          failures,
          `iteration ${iteration}: queue ${queue} used idx ${drv.usedIdx()}, expected ${count}`,
        );
      const finding = o.check?.(d, queue, stats);
      if (finding) recordFailure(failures, `iteration ${iteration}: ${finding}`);
      if (iteration % 10_000 === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    restoreLog();
  }
  return { target: o.target, seed: o.seed, iterations: o.iterations, failures, stats };
}
