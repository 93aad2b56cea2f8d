// Fuzz target: virtio-scsi requests from a hostile driver (chain_fuzzer.ts makes the chains and checks the
// device). The request slot frames a virtio_scsi_cmd_req with a random LUN field and a CDB of a supported or random
// operation code with interesting fields (LBAs near the end and past 2^53, transfer lengths around the buffers and
// the limits); the data-out slot holds UNMAP parameter lists with lying headers; sometimes cdb_size and sense_size
// are rewritten through the configuration space. Controllers cycle through read-only / writable disks and block
// sizes.
import { logger } from "../../src/base/log.ts";
import { REQUEST_QUEUE } from "../../src/devices/virtio/scsi/constants.ts";
import { VirtioScsi } from "../../src/devices/virtio/scsi/device.ts";
import { LogicalUnit } from "../../src/devices/virtio/scsi/logical_unit.ts";
import { DATA_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { type ChainShape, MEM_SIZE, QUEUE_SIZE, runChainFuzz, SLOT_SIZE } from "../chain_fuzzer.ts";
import { SCSI_EXPECTED_FAILURES } from "../expected_failures.ts";
import { MemoryDisk } from "../memory_disk.ts";
import { type FuzzReport, mutate, type Rng } from "../random.ts";

const DISK_SIZE = 1 << 20;
const OPCODES = [
  0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x35, 0x41, 0x42, 0x5a, 0x88, 0x8a, 0x91, 0x93, 0x9e,
  0xa0,
];

/** The request first (its usual sizes: 32- and 256-byte CDBs, short ones), data-out, then data-in and response. */
const SHAPE: ChainShape = {
  interestingLengths: [0, 1, 11, 12, 18, 50, 51, 52, 108, 512, 4096],
  dataSectors: 16,
  maxIndirect: 8,
  maxDirect: 5,
  writableChance: 0.4,
  plausibleLength: (rng, i, _n, anyLength) => (i === 0 ? rng.pick([51, 51, 35, 19 + 256, 40]) : anyLength()),
};

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: VirtioScsi;

  constructor(rng: Rng) {
    const readOnly = rng.chance(0.3);
    const blockSize = rng.pick([512, 512, 4096]);
    this.dev = new VirtioScsi(
      [0, 1].map(
        (target) => new LogicalUnit({ disk: new MemoryDisk(DISK_SIZE), readOnly, blockSize, target }),
      ),
    );
    this.dev.activate(this.drv.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, this.drv.activate()]]));
  }

  queueNotify(queue: number): void {
    this.dev.queueNotify(queue);
  }
}

/** A big-endian field of `width` bytes at `at`: mostly small, sometimes near the disk's end or huge. */
function field(rng: Rng, cdb: Uint8Array, at: number, width: number): void {
  let v: bigint;
  switch (rng.int(5)) {
    case 0:
      v = rng.u64();
      break;
    case 1:
      v = BigInt(DISK_SIZE / 512 - rng.int(4));
      break;
    default:
      v = BigInt(rng.int(64));
  }
  for (let i = width - 1; i >= 0; i--) {
    cdb[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

const req = new Uint8Array(19 + 256);
const out = new Uint8Array(SLOT_SIZE);
const ov = new DataView(out.buffer);

/** Slot 0: the request (LUN, tag, attributes, CDB); slot 1: data-out (an UNMAP list or noise). */
function fillBuffers(rng: Rng, d: Driver): void {
  req.fill(0);
  const lun = rng.chance(0.9)
    ? [
        1,
        rng.chance(0.9) ? rng.int(2) : rng.int(256),
        rng.chance(0.9) ? 0x40 : rng.int(256),
        rng.chance(0.9) ? 0 : rng.int(256),
      ]
    : [rng.int(256), rng.int(256), rng.int(256), rng.int(256)];
  req.set(lun);
  const cdb = req.subarray(19);
  cdb[0] = rng.chance(0.9) ? rng.pick(OPCODES) : rng.int(256);
  cdb[1] = rng.chance(0.8) ? rng.pick([0, 0x01, 0x08, 0x09, 0x10]) : rng.int(256);
  if (cdb[0] === 0x9e && rng.chance(0.8)) cdb[1] = 0x10;
  // LBA and length fields where the 6-, 10- and 16-byte forms keep them.
  field(rng, cdb, 2, rng.pick([1, 4, 8]));
  field(rng, cdb, rng.pick([4, 7, 10]), rng.pick([1, 2, 4]));
  if (rng.chance(0.2)) mutate(rng, cdb, 3, 0, 16);
  d.drv.mem.write(DATA_BASE, req);
  const descriptors = rng.int(300);
  ov.setUint16(0, rng.chance(0.8) ? 6 + 16 * descriptors : rng.int(0x10000));
  ov.setUint16(2, rng.chance(0.8) ? 16 * descriptors : rng.int(0x10000));
  const written = Math.min(descriptors, (SLOT_SIZE - 8) / 16);
  for (let i = 0; i < written; i++) {
    ov.setBigUint64(
      8 + 16 * i,
      rng.chance(0.8) ? BigInt(rng.int(DISK_SIZE / 512)) : BigInt.asUintN(64, rng.u64()),
    );
    ov.setUint32(16 + 16 * i, rng.chance(0.8) ? rng.int(64) : rng.u32());
  }
  const used = out.subarray(0, 8 + 16 * written);
  if (rng.chance(0.3)) mutate(rng, used, 8);
  d.drv.mem.write(DATA_BASE + SLOT_SIZE, used);
}

function configWrite(rng: Rng, d: Driver): void {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(
    0,
    rng.chance(0.5) ? rng.pick([16, 32, 64, 96, 252, 256]) : rng.u32(),
    true,
  );
  d.dev.writeConfig(
    rng.pick([20, 24, 22, 0, 35]),
    rng.chance(0.9) ? value : value.subarray(0, rng.int(4) + 1),
  );
}

export function fuzzScsiRequests(iterations: number, seed: number): FuzzReport {
  return runChainFuzz({
    target: "scsi_request",
    seed,
    iterations,
    log: logger("devices::virtio::scsi"),
    expectedFailures: SCSI_EXPECTED_FAILURES,
    shape: SHAPE,
    queue: REQUEST_QUEUE,
    newDevice: (rng) => new Driver(rng),
    prepare: (rng, d, stats) => {
      if (rng.chance(0.02)) {
        stats.configWrites = (stats.configWrites ?? 0) + 1;
        configWrite(rng, d);
      }
      fillBuffers(rng, d);
    },
  });
}
