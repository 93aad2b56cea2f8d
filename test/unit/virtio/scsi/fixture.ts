// What the virtio-scsi unit tests share: a controller over in-memory disks on a fake request queue (index 2) or
// control queue (index 0), and `submit`, which sends one command (virtio_scsi_cmd_req with a CDB, optional
// data-out; virtio_scsi_cmd_resp with sense room, optional data-in) and decodes the response.
import { MemoryDisk } from "../../../../fuzz/memory_disk.ts";
import { CONTROL_QUEUE, REQUEST_QUEUE } from "../../../../src/devices/virtio/scsi/constants.ts";
import { VirtioScsi } from "../../../../src/devices/virtio/scsi/device.ts";
import { LogicalUnit } from "../../../../src/devices/virtio/scsi/logical_unit.ts";
import { type BufferSpec, FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import type { DiskFile } from "../../../../src/disk/disk_file.ts";

export interface UnitSpec {
  readonly size?: number;
  readonly readOnly?: boolean;
  readonly blockSize?: number;
  readonly disk?: DiskFile;
}

/** LUN field for target `target`, LUN `lun` (flat addressing, as Linux's virtio_scsi writes it). */
export function lunField(target: number, lun = 0): Uint8Array {
  return Uint8Array.of(1, target, 0x40 | (lun >> 8), lun & 0xff, 0, 0, 0, 0);
}

/** A CDB of `bytes` (zero-padded to 32). */
export function cdb(...bytes: number[]): Uint8Array {
  const c = new Uint8Array(32);
  c.set(bytes);
  return c;
}

function be(n: number | bigint, width: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < width; i++) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

export const cdbs = {
  read10: (lba: number, blocks: number) => cdb(0x28, 0, ...be(lba, 4), 0, ...be(blocks, 2), 0),
  write10: (lba: number, blocks: number) => cdb(0x2a, 0, ...be(lba, 4), 0, ...be(blocks, 2), 0),
  read16: (lba: number | bigint, blocks: number) => cdb(0x88, 0, ...be(lba, 8), ...be(blocks, 4), 0, 0),
  write16: (lba: number | bigint, blocks: number) => cdb(0x8a, 0, ...be(lba, 8), ...be(blocks, 4), 0, 0),
  read6: (lba: number, blocks: number) => cdb(0x08, ...be(lba, 3), blocks, 0),
  write6: (lba: number, blocks: number) => cdb(0x0a, ...be(lba, 3), blocks, 0),
  inquiry: (allocLen: number, page?: number) =>
    cdb(0x12, page === undefined ? 0 : 1, page ?? 0, ...be(allocLen, 2), 0),
  modeSense6: (page: number, allocLen: number, pc = 0, dbd = false) =>
    cdb(0x1a, dbd ? 0x08 : 0, (pc << 6) | page, 0, allocLen, 0),
  modeSense10: (page: number, allocLen: number, pc = 0) =>
    cdb(0x5a, 0, (pc << 6) | page, 0, 0, 0, 0, ...be(allocLen, 2), 0),
  readCapacity10: () => cdb(0x25),
  readCapacity16: (allocLen: number) => cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, ...be(allocLen, 4), 0, 0),
  syncCache10: (lba = 0, blocks = 0) => cdb(0x35, 0, ...be(lba, 4), 0, ...be(blocks, 2), 0),
  syncCache16: (lba = 0, blocks = 0) => cdb(0x91, 0, ...be(lba, 8), ...be(blocks, 4), 0, 0),
  writeSame10: (lba: number, blocks: number, unmap = false) =>
    cdb(0x41, unmap ? 0x08 : 0, ...be(lba, 4), 0, ...be(blocks, 2), 0),
  writeSame16: (lba: number, blocks: number, flags = 0) =>
    cdb(0x93, flags, ...be(lba, 8), ...be(blocks, 4), 0, 0),
  unmap: (paramLen: number) => cdb(0x42, 0, 0, 0, 0, 0, 0, ...be(paramLen, 2), 0),
  reportLuns: (allocLen: number) => cdb(0xa0, 0, 0, 0, 0, 0, ...be(allocLen, 4), 0, 0),
  testUnitReady: () => cdb(0x00),
  requestSense: (allocLen: number) => cdb(0x03, 0, 0, 0, allocLen, 0),
};

/** An UNMAP parameter list of (lba, blocks) descriptors; `declared` overrides the block descriptor length. */
export function unmapList(ranges: readonly [number, number][], declared?: number): Uint8Array {
  const b = new Uint8Array(8 + 16 * ranges.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, b.length - 2);
  v.setUint16(2, declared ?? 16 * ranges.length);
  ranges.forEach(([lba, blocks], i) => {
    v.setBigUint64(8 + 16 * i, BigInt(lba));
    v.setUint32(16 + 16 * i, blocks);
  });
  return b;
}

export interface Submitted {
  readonly response: number;
  readonly status: number;
  readonly senseLen: number;
  readonly resid: number;
  readonly sense: Uint8Array<ArrayBuffer>;
  readonly dataIn: Uint8Array<ArrayBuffer>;
  readonly usedLen: number;
}

export interface SubmitOptions {
  readonly target?: number;
  readonly lun?: number;
  readonly dataOut?: Uint8Array;
  readonly dataInLen?: number;
  /** Bytes of the response buffer (default 12 + 96). */
  readonly respLen?: number;
  /** Bytes of the request buffer (default 19 + 32). */
  readonly reqLen?: number;
}

/** A controller over `units` (default: one writable 1 MiB disk of 512-byte blocks), activated. */
export function scsiController(units: readonly UnitSpec[] = [{}]) {
  const disks = units.map((u) => u.disk ?? new MemoryDisk(u.size ?? 1 << 20));
  const dev = new VirtioScsi(
    units.map(
      (u, target) =>
        new LogicalUnit({
          disk: disks[target]!,
          readOnly: u.readOnly ?? false,
          blockSize: u.blockSize ?? 512,
          target,
        }),
    ),
  );
  const drv = new FakeDriverQueue(16, undefined, 4 << 20);
  dev.activate(drv.mem, new FakeInterrupt(), new Map([[REQUEST_QUEUE, drv.activate()]]));

  const submit = (command: Uint8Array, o: SubmitOptions = {}): Submitted => {
    const req = new Uint8Array(o.reqLen ?? 19 + 32);
    req.set(lunField(o.target ?? 0, o.lun ?? 0));
    req.set(command.subarray(0, Math.max(0, req.length - 19)), 19);
    const respLen = o.respLen ?? 12 + 96;
    const buffers: BufferSpec[] = [{ data: req }];
    if (o.dataOut) buffers.push({ data: o.dataOut });
    buffers.push({ len: respLen, writable: true });
    if (o.dataInLen) buffers.push({ len: o.dataInLen, writable: true });
    const { addrs } = drv.addChain(buffers);
    const before = drv.usedIdx();
    dev.queueNotify(REQUEST_QUEUE);
    const respAt = addrs[o.dataOut ? 2 : 1]!;
    const resp = new Uint8Array(drv.mem.slice(respAt, respLen));
    const v = new DataView(resp.buffer);
    return {
      senseLen: respLen >= 12 ? v.getUint32(0, true) : 0,
      resid: respLen >= 12 ? v.getUint32(4, true) : 0,
      status: resp[10] ?? 0,
      response: resp[11] ?? 0,
      sense: resp.subarray(12),
      dataIn: o.dataInLen ? new Uint8Array(drv.mem.slice(addrs.at(-1)!, o.dataInLen)) : new Uint8Array(0),
      usedLen: drv.usedElem(before).len,
    };
  };
  return { dev, drv, disks, submit };
}

/** A controller with its control queue activated; `control` sends one request and returns the response bytes. */
export function scsiControlQueue(targets = 1) {
  const dev = new VirtioScsi(
    Array.from(
      { length: targets },
      (_, target) =>
        new LogicalUnit({ disk: new MemoryDisk(1 << 16), readOnly: false, blockSize: 512, target }),
    ),
  );
  const drv = new FakeDriverQueue(16);
  dev.activate(drv.mem, new FakeInterrupt(), new Map([[CONTROL_QUEUE, drv.activate()]]));
  const control = (request: Uint8Array, respLen: number) => {
    const { addrs } = drv.addChain([{ data: request }, { len: respLen, writable: true }]);
    const before = drv.usedIdx();
    dev.queueNotify(CONTROL_QUEUE);
    return { resp: drv.mem.slice(addrs[1]!, respLen).slice(), usedLen: drv.usedElem(before).len };
  };
  return { dev, control };
}
