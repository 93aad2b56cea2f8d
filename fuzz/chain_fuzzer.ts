// The part every request-queue fuzz target shares: a hostile driver's descriptor chains (direct or through an
// indirect table; random addresses, lengths, flags and links, mostly shaped as the real driver builds them) over
// buffer slots the target fills, one notification per chain, and the checks: the device never throws, every
// published chain is used exactly once, no request fails with an error other than the expected guest-input errors,
// and memory stays bounded. A target says what its requests look like (ChainShape) and fills the slots; it may
// check more around each notification (beforeNotify, afterNotify), and a queue whose device keeps chains until it
// has something to put in them (a receive queue) leaves the used-at-once check to the target.
import type { logger } from "../src/base/log.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../src/devices/virtio/constants.ts";
import { DATA_BASE, DESC_BASE, FakeDriverQueue } from "../src/devices/virtio/testing.ts";
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
  /** The length of a plausible chain's descriptor `i` of `n`; `anyLength` draws one of the random lengths. */
  plausibleLength(rng: Rng, i: number, n: number, anyLength: () => number): number;
  /** Where a plausible descriptor `i` points; by default at the start of slot `i`. */
  plausibleAddress?(rng: Rng, i: number): number;
  /**
   * Whether a plausible descriptor `i` of `n` is device-writable. By default a request's: readable ones first,
   * then writable ones (each later one turns writable with writableChance), the last always writable.
   */
  plausiblyWritable?(rng: Rng, i: number, n: number): boolean;
}

/** A device under test on a fake driver queue. */
export interface FuzzedDevice {
  readonly drv: FakeDriverQueue;
  queueNotify(queue: number): void;
}

export interface ChainFuzzOptions<D extends FuzzedDevice> {
  readonly target: string;
  readonly seed: number;
  readonly iterations: number;
  /** The device's logger, whose records are counted and checked (device_log.ts). */
  readonly log: ReturnType<typeof logger>;
  readonly expectedFailures: readonly string[];
  readonly shape: ChainShape;
  /** The queue the chains go to (it may depend on the device, e.g. the control queue follows the pairs). */
  readonly queue: number | ((device: D) => number);
  /** Iterations one device serves (default 5000). */
  readonly iterationsPerDevice?: number;
  /**
   * Whether each chain must be used by the notification that follows it (default true). False for a queue whose
   * device holds chains until it has input for them; afterNotify then checks what was used.
   */
  readonly usedAtOnce?: boolean;
  newDevice(rng: Rng): D;
  /** Before each chain: fills the slots (and may poke the device, e.g. its configuration space). */
  prepare(rng: Rng, device: D, stats: Record<string, number>): void;
  /** Once the chain is published, just before the notification (e.g. to snapshot what the checks compare). */
  beforeNotify?(device: D): void;
  /** After the notification: a finding, or undefined when the device did what it should. */
  afterNotify?(device: D, stats: Record<string, number>): string | undefined;
}

function address(rng: Rng): number | bigint {
  switch (rng.int(10)) {
    case 0:
      return rng.u64();
    case 1:
      return MEM_SIZE - rng.int(64);
    default:
      return DATA_BASE + rng.int(SLOTS) * SLOT_SIZE + (rng.chance(0.8) ? 0 : rng.int(SLOT_SIZE));
  }
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
    const addr = plausible ? (shape.plausibleAddress?.(rng, i) ?? slot) : address(rng);
    if (plausible && shape.plausiblyWritable) writable = shape.plausiblyWritable(rng, i, n);
    else if (plausible && (last || (i > 0 && rng.chance(shape.writableChance)))) writable = true;
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
    drv.writeDescriptor(DESC_BASE, head, {
      addr: rng.chance(0.9) ? INDIRECT_TABLE : address(rng),
      len: rng.chance(0.9) ? n * 16 : length(rng, shape),
      flags: VIRTQ_DESC_F_INDIRECT | (rng.chance(0.05) ? VIRTQ_DESC_F_NEXT : 0),
      next: 0,
    });
  } else writeChain(rng, drv, shape, DESC_BASE, head, rng.int(shape.maxDirect) + 1, QUEUE_SIZE);
  drv.publish(head);
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
  let published = 0;
  try {
    for (iteration = 0; iteration < o.iterations; iteration++) {
      if (iteration % (o.iterationsPerDevice ?? ITERATIONS_PER_DEVICE) === 0) {
        device = o.newDevice(rng);
        published = 0;
      }
      const d = device!;
      o.prepare(rng, d, stats);
      publishChain(rng, d.drv, o.shape, stats);
      published = (published + 1) & 0xffff;
      o.beforeNotify?.(d);
      try {
        d.queueNotify(typeof o.queue === "number" ? o.queue : o.queue(d));
      } catch (e) {
        recordFailure(failures, `iteration ${iteration}: queueNotify threw ${(e as Error).stack}`);
      }
      if ((o.usedAtOnce ?? true) && d.drv.usedIdx() !== published)
        recordFailure(failures, `iteration ${iteration}: used idx ${d.drv.usedIdx()}, expected ${published}`);
      const finding = o.afterNotify?.(d, stats);
      if (finding !== undefined) recordFailure(failures, `iteration ${iteration}: ${finding}`);
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
