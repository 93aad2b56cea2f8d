// Fuzz target: virtio-scsi requests from a hostile driver. Each iteration writes a random descriptor chain (direct
// or through an indirect table) framing a virtio_scsi_cmd_req with a random LUN field and a CDB of a supported or
// random operation code with interesting fields (LBAs near the end and past 2^53, transfer lengths around the
// buffers and the limits, UNMAP parameter lists with lying headers), random data-out and data-in buffers, and
// sometimes rewrites cdb_size and sense_size through the configuration space. Checked: the device never throws,
// every published chain is used exactly once, nothing fails with an error other than the expected guest-input
// errors, and memory stays bounded. Controllers cycle through read-only / writable disks and block sizes.
import { logger } from "../../src/base/log.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from "../../src/devices/virtio/constants.ts";
import { REQUEST_QUEUE } from "../../src/devices/virtio/scsi/constants.ts";
import { VirtioScsi } from "../../src/devices/virtio/scsi/device.ts";
import { LogicalUnit } from "../../src/devices/virtio/scsi/logical_unit.ts";
import { DATA_BASE, DESC_BASE, FakeDriverQueue, FakeInterrupt } from "../../src/devices/virtio/testing.ts";
import { captureDeviceLog } from "../device_log.ts";
import { MemoryBound } from "../memory_bound.ts";
import { MemoryDisk } from "../memory_disk.ts";
import { type FuzzReport, Rng, mutate, recordFailure } from "../random.ts";

const QUEUE_SIZE = 16;
const MEM_SIZE = 1 << 20;
const DISK_SIZE = 1 << 20;
/** Buffers the chains point at: SLOTS slots of SLOT_SIZE bytes from DATA_BASE (slot 0 holds the request). */
const SLOT_SIZE = 0x4000;
const SLOTS = 8;
const INDIRECT_TABLE = 0x80000;
const OPCODES = [
  0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x35, 0x41, 0x42, 0x5a, 0x88, 0x8a, 0x91, 0x93, 0x9e,
  0xa0,
];
/** How a failed request's error may begin: guest mistakes, never a bug in our code. */
const EXPECTED_FAILURES = [
  "virtio-scsi request has no place for a response",
  "descriptor chain too short",
  "guest memory range",
];

class Driver {
  readonly drv = new FakeDriverQueue(QUEUE_SIZE, undefined, MEM_SIZE);
  readonly dev: VirtioScsi;
  published = 0;

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
      return rng.pick([0, 1, 11, 12, 18, 50, 51, 52, 108, 512, 4096]);
    default:
      return 512 * (rng.int(16) + 1);
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

/** Writes a chain of `n` descriptors into `table` (index `first` on), mostly shaped as virtio_scsi builds it. */
function writeChain(rng: Rng, d: Driver, table: number, first: number, n: number, wrap: number): void {
  let writable = false;
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const plausible = rng.chance(0.85);
    const addr = plausible ? DATA_BASE + Math.min(i, SLOTS - 1) * SLOT_SIZE : address(rng);
    if (plausible && (last || (i > 0 && rng.chance(0.4)))) writable = true;
    let flags = (writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);
    if (rng.chance(0.03)) flags = rng.int(8);
    const len = plausible ? (i === 0 ? rng.pick([51, 51, 35, 19 + 256, 40]) : length(rng)) : length(rng);
    const index = (first + i) % wrap;
    const next = rng.chance(0.95) ? (index + 1) % wrap : rng.int(wrap + 2);
    d.drv.writeDescriptor(table, index, { addr, len, flags, next });
  }
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
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats = { indirect: 0, refused: 0, failed: 0, configWrites: 0 };
  const log = logger("devices::virtio::scsi");
  let iteration = 0;
  const restoreLog = captureDeviceLog(log, EXPECTED_FAILURES, stats, (text) =>
    recordFailure(failures, `iteration ${iteration}: unexpected failure: ${text}`),
  );
  const memory = new MemoryBound();
  let driver: Driver | undefined;
  try {
    for (iteration = 0; iteration < iterations; iteration++) {
      if (iteration % 5000 === 0) driver = new Driver(rng);
      const d = driver!;
      if (rng.chance(0.02)) {
        stats.configWrites++;
        configWrite(rng, d);
      }
      fillBuffers(rng, d);
      const head = rng.int(QUEUE_SIZE);
      if (rng.chance(0.3)) {
        stats.indirect++;
        const n = rng.int(8) + 1;
        writeChain(rng, d, INDIRECT_TABLE, 0, n, n);
        d.drv.writeDescriptor(DESC_BASE, head, {
          addr: rng.chance(0.9) ? INDIRECT_TABLE : address(rng),
          len: rng.chance(0.9) ? n * 16 : length(rng),
          flags: VIRTQ_DESC_F_INDIRECT | (rng.chance(0.05) ? VIRTQ_DESC_F_NEXT : 0),
          next: 0,
        });
      } else writeChain(rng, d, DESC_BASE, head, rng.int(5) + 1, QUEUE_SIZE);
      d.drv.publish(head);
      d.published = (d.published + 1) & 0xffff;
      try {
        d.dev.queueNotify(REQUEST_QUEUE);
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
  return { target: "scsi_request", seed, iterations, failures, stats };
}
