// Fuzz target: virtio-blk requests from a hostile driver (chain_fuzzer.ts makes the chains and checks the device).
// The request slot holds a header of every request type with interesting sectors, the next slot a random segment
// list (discard, write-zeroes). Devices cycle through read-only / writable and sparse / not.
import { logger } from "../../src/base/log.ts";
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
import { DATA_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type ChainShape, MEM_SIZE, QUEUE_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { BLOCK_EXPECTED_FAILURES } from "../expected_failures.ts";
import { MemoryDisk } from "../memory_disk.ts";
import type { FuzzReport, Rng } from "../random.ts";

const DISK_SIZE = 1 << 20;
const TYPES = [
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_WRITE_ZEROES,
];

/** Header first, data buffers, the status byte last (as virtio_blk builds a request). */
const SHAPE: ChainShape = {
  interestingLengths: [0, 1, 15, 16, 17, 32, 512, 513, 4096],
  dataSectors: 8,
  maxIndirect: 40,
  maxDirect: 6,
  writableChance: 0.3,
  plausibleLength: (rng, i, n, anyLength) =>
    i === 0 ? REQUEST_HEADER_SIZE : i === n - 1 ? rng.pick([1, 1, 1, 2, 0]) : anyLength(),
};

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: VirtioBlock;

  constructor(readOnly: boolean, sparse: boolean) {
    this.dev = new VirtioBlock({ disk: new MemoryDisk(DISK_SIZE), readOnly, sparse, blockSize: 512 });
    this.dev.activate(this.drv.mem, new FakeInterrupt(), new Map([[0, this.drv.activate()]]));
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
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

export function fuzzBlockRequests(iterations: number, seed: number): FuzzReport {
  return runChainFuzz({
    target: "block_request",
    seed,
    iterations,
    log: logger("devices::virtio::block"),
    expectedFailures: BLOCK_EXPECTED_FAILURES,
    shape: SHAPE,
    queue: 0,
    newDevice: (rng) => new Driver(rng.chance(0.3), rng.chance(0.7)),
    prepare: (rng, d) => fillBuffers(rng, d),
  });
}
