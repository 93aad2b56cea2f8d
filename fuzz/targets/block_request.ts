// Fuzz target: virtio-blk requests from a hostile driver. Each iteration writes a random descriptor chain (direct
// or through an indirect table; random addresses, lengths, flags and links; headers of every request type with
// interesting sectors; random segment lists) and notifies the device. Checked: the device never throws, every
// published chain is used exactly once, nothing fails with an error other than the expected guest-input errors,
// and memory stays bounded. Devices cycle through read-only / writable and sparse / not.
import { logger } from "../../src/base/log.ts";
import { captureDeviceLog } from "../device_log.ts";
import { MemoryBound } from "../memory_bound.ts";
import {
  REQUEST_HEADER_SIZE,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from "../../src/devices/virtio/block/constants.ts";
import { VirtioBlock } from "../../src/devices/virtio/block/device.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../src/devices/virtio/constants.ts";
import { DATA_BASE, DESC_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { MemoryDisk } from "../memory_disk.ts";
import { type FuzzReport, Rng, recordFailure } from "../random.ts";

const QUEUE_SIZE = 16;
const MEM_SIZE = 1 << 20;
const DISK_SIZE = 1 << 20;
/** Buffers the chains point at: SLOTS slots of SLOT_SIZE bytes from DATA_BASE. */
const SLOT_SIZE = 0x4000;
const SLOTS = 8;
const INDIRECT_TABLE = 0x80000;
const TYPES = [
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES,
];
/** How a failed request's error may begin: guest mistakes and disk refusals, never a bug in our code. */
const EXPECTED_FAILURES = [
  "virtio-blk request has no place for a status",
  "descriptor chain too short",
  "disk image ",
  "guest memory range",
];

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: VirtioBlock;
  published = 0;

  constructor(readOnly: boolean, sparse: boolean) {
    this.dev = new VirtioBlock({ disk: new MemoryDisk(DISK_SIZE), readOnly, sparse, blockSize: 512 });
    this.dev.activate(this.drv.mem, new FakeInterrupt(), new Map([[0, this.drv.activate()]]));
  }
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

function length(rng: Rng): number {
  switch (rng.int(6)) {
    case 0:
      return rng.u32();
    case 1:
      return rng.pick([0, 1, 15, 16, 17, 32, 512, 513, 4096]);
    default:
      return 512 * (rng.int(8) + 1);
  }
}

/** Fills the slots with a request header, segments and noise. */
function fillBuffers(rng: Rng, d: Driver): void {
  const mem = d.drv.mem;
  const header = new Uint8Array(REQUEST_HEADER_SIZE);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, rng.chance(0.9) ? rng.pick(TYPES) : rng.u32(), true);
  hv.setBigUint64(
    8,
    rng.chance(0.7) ? BigInt(rng.int(DISK_SIZE / 512 + 8)) : BigInt.asUintN(64, rng.u64()),
    true,
  );
  mem.write(DATA_BASE, header);
  // Slot 1: a segment list (le64 sector, le32 num_sectors, le32 flags).
  const segs = new Uint8Array(16 * (rng.int(40) + 1));
  const sv = new DataView(segs.buffer);
  for (let at = 0; at < segs.length; at += 16) {
    sv.setBigUint64(
      at,
      rng.chance(0.8) ? BigInt(rng.int(DISK_SIZE / 512)) : BigInt.asUintN(64, rng.u64()),
      true,
    );
    sv.setUint32(at + 8, rng.chance(0.8) ? rng.int(64) : rng.u32(), true);
    sv.setUint32(at + 12, rng.chance(0.8) ? rng.int(2) : rng.u32(), true);
  }
  mem.write(DATA_BASE + SLOT_SIZE, segs);
}

/** Writes a chain of `n` descriptors into `table` (index `first` on), mostly well formed. */
function writeChain(rng: Rng, d: Driver, table: number, first: number, n: number, wrap: number): void {
  let writable = false;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    // Plausible chains: header slot first, then data slots; writable ones after readable ones, the last writable.
    const plausible = rng.chance(0.85);
    const addr = plausible ? DATA_BASE + Math.min(i, SLOTS - 1) * SLOT_SIZE : address(rng);
    if (plausible && (last || (i > 0 && rng.chance(0.3)))) writable = true;
    let flags = (writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);
    if (rng.chance(0.03)) flags = rng.int(8);
    const len = plausible
      ? i === 0
        ? REQUEST_HEADER_SIZE
        : last
          ? rng.pick([1, 1, 1, 2, 0])
          : length(rng)
      : length(rng);
    const index = (first + i) % wrap;
    const next = rng.chance(0.95) ? (index + 1) % wrap : rng.int(wrap + 2);
    d.drv.writeDescriptor(table, index, { addr, len, flags, next });
  }
}

export function fuzzBlockRequests(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats = { indirect: 0, refused: 0, failed: 0 };
  const log = logger("devices::virtio::block");
  let iteration = 0;
  const restoreLog = captureDeviceLog(log, EXPECTED_FAILURES, stats, (text) =>
    recordFailure(failures, `iteration ${iteration}: unexpected failure: ${text}`),
  );
  const memory = new MemoryBound();
  let driver: Driver | undefined;
  try {
    for (iteration = 0; iteration < iterations; iteration++) {
      if (iteration % 5000 === 0) driver = new Driver(rng.chance(0.3), rng.chance(0.7));
      const d = driver!;
      fillBuffers(rng, d);
      const head = rng.int(QUEUE_SIZE);
      if (rng.chance(0.3)) {
        stats.indirect++;
        const n = rng.int(40) + 1;
        writeChain(rng, d, INDIRECT_TABLE, 0, n, n);
        d.drv.writeDescriptor(DESC_BASE, head, {
          addr: rng.chance(0.9) ? INDIRECT_TABLE : address(rng),
          len: rng.chance(0.9) ? n * 16 : length(rng),
          flags: VIRTQ_DESC_F_INDIRECT | (rng.chance(0.05) ? VIRTQ_DESC_F_NEXT : 0),
          next: 0,
        });
      } else writeChain(rng, d, DESC_BASE, head, rng.int(6) + 1, QUEUE_SIZE);
      d.drv.publish(head);
      d.published = (d.published + 1) & 0xffff;
      try {
        d.dev.queueNotify(0);
      } catch (e) {
        recordFailure(failures, `iteration ${iteration}: queueNotify threw ${(e as Error).stack}`);
      }
      if (d.drv.usedIdx() !== d.published)
        recordFailure(
          failures,
          `iteration ${iteration}: used idx ${d.drv.usedIdx()}, expected ${d.published}`,
        );
      if (iteration % 10_000 === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    restoreLog();
  }
  return { target: "block_request", seed, iterations, failures, stats };
}
