import { ptr } from "bun:ffi";
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../../../src/devices/virtio/block/constants.ts";
import { decodeTransfer, type Transfer } from "../../../../src/devices/virtio/block/request.ts";
import { ChainBuffers } from "../../../../src/devices/virtio/descriptor_chain.ts";
import { FakeDriverQueue } from "../../../../src/devices/virtio/testing.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import { IovecList, RawDisk } from "../../../../src/disk/raw.ts";
import { blockOnImage, requestHeader, useTempDir } from "./fixture.ts";

const tempDir = useTempDir("crosvm-ts-blk-fast-");

const DISK_SIZE = 64 * 1024;

const header = requestHeader;

function image(): Uint8Array {
  return Uint8Array.from({ length: DISK_SIZE }, (_, i) => (i * 7 + (i >> 9)) & 0xff);
}

/** The next available chain, read the way the device reads it. */
function popBuffers(drv: FakeDriverQueue): ChainBuffers {
  const buffers = new ChainBuffers(drv.mem);
  if (!drv.queue.popInto(buffers)) throw new Error("no chain available");
  return buffers;
}

function setup() {
  return blockOnImage(tempDir(), image());
}

test("a read in 3 data buffers returns the image's bytes, status OK and the used length", () => {
  const { drv, submit } = setup();

  const r = submit([
    { data: header(VIRTIO_BLK_T_IN, 3) },
    { len: 512, writable: true },
    { len: 1024, writable: true },
    { len: 512, writable: true },
    { len: 1, writable: true },
  ]);

  const joined: Uint8Array = new Uint8Array(2048);
  joined.set(drv.mem.read(r.addrs[1]!, 512), 0);
  joined.set(drv.mem.read(r.addrs[2]!, 1024), 512);
  joined.set(drv.mem.read(r.addrs[3]!, 512), 1536);
  expect([r.status, r.used.len]).toEqual([VIRTIO_BLK_S_OK, 2049]);
  expect(joined).toEqual(image().subarray(3 * 512, 3 * 512 + 2048));
});

test("a write in 2 data buffers lands in the image at its sector", () => {
  const { path, submit } = setup();
  const a = new Uint8Array(512).fill(0xaa);
  const b = new Uint8Array(512).fill(0xbb);

  const r = submit([
    { data: header(VIRTIO_BLK_T_OUT, 10) },
    { data: a },
    { data: b },
    { len: 1, writable: true },
  ]);

  const file = readFileSync(path);
  expect([r.status, r.used.len]).toEqual([VIRTIO_BLK_S_OK, 1]);
  expect([file[10 * 512], file[11 * 512], file[12 * 512]]).toEqual([0xaa, 0xbb, image()[12 * 512]]);
});

test("a read that runs past the end of the disk fails with IOERR", () => {
  const { submit } = setup();

  const r = submit([
    { data: header(VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1) },
    { len: 1024, writable: true },
    { len: 1, writable: true },
  ]);

  expect([r.status, r.used.len]).toEqual([VIRTIO_BLK_S_IOERR, 1]);
});

test("a read whose header is split over two descriptors is still served", () => {
  const { drv, submit } = setup();
  const h = header(VIRTIO_BLK_T_IN, 1);

  const r = submit([
    { data: h.subarray(0, 8) },
    { data: h.subarray(8) },
    { len: 512, writable: true },
    { len: 1, writable: true },
  ]);

  expect([r.status, r.used.len]).toEqual([VIRTIO_BLK_S_OK, 513]);
  expect(drv.mem.read(r.addrs[2]!, 512)).toEqual(image().subarray(512, 1024));
});

test("decodeTransfer leaves a read of part of a sector to the general decoder", () => {
  const drv = new FakeDriverQueue();
  drv.activate();
  drv.addChain([
    { data: header(VIRTIO_BLK_T_IN, 0) },
    { len: 100, writable: true },
    { len: 1, writable: true },
  ]);
  const t: Transfer = { write: false, sector: 0, length: 0, statusAddr: 0 };

  expect(decodeTransfer(popBuffers(drv), t)).toBe(false);
});

test("decodeTransfer leaves a sector above 2^53 to the general decoder", () => {
  const drv = new FakeDriverQueue();
  drv.activate();
  drv.addChain([
    { data: header(VIRTIO_BLK_T_IN, 1n << 60n) },
    { len: 512, writable: true },
    { len: 1, writable: true },
  ]);
  const t: Transfer = { write: false, sector: 0, length: 0, statusAddr: 0 };

  expect(decodeTransfer(popBuffers(drv), t)).toBe(false);
});

test("decodeTransfer leaves a read with a device-readable data buffer to the general decoder", () => {
  const drv = new FakeDriverQueue();
  drv.activate();
  drv.addChain([{ data: header(VIRTIO_BLK_T_IN, 0) }, { len: 512 }, { len: 1, writable: true }]);
  const t: Transfer = { write: false, sector: 0, length: 0, statusAddr: 0 };

  expect(decodeTransfer(popBuffers(drv), t)).toBe(false);
});

test("RawDisk.readIovecs returns a short count at the end of the file", () => {
  const path = join(tempDir(), "short.img");
  writeFileSync(path, new Uint8Array(1024).fill(5));
  const disk = openDisk(path) as RawDisk;
  const buf = new Uint8Array(4096);
  const iov = new IovecList();
  iov.push(Number(ptr(buf)), 2048);

  const n = disk.readIovecs(iov, 0);

  expect([n, buf[1023], buf[1024]]).toEqual([1024, 5, 0]);
  disk.close();
});

test("IovecList.append merges a range that continues the last entry", () => {
  const iov = new IovecList();

  iov.append(0x10000, 4096);
  iov.append(0x11000, 4096);

  expect([iov.count, iov.bytes, iov.words[2]]).toEqual([1, 8192, 8192]);
});

test("IovecList.append starts a new entry for a range that does not continue the last", () => {
  const iov = new IovecList();

  iov.append(0x10000, 4096);
  iov.append(0x20000, 4096);

  expect([iov.count, iov.bytes, iov.words[4]]).toEqual([2, 8192, 0x20000]);
});

test("a read whose buffers are back to back in guest memory returns the image's bytes", () => {
  const { drv, submit } = setup();

  // addChain places buffers one after another: the two 512-byte buffers are contiguous.
  const r = submit([
    { data: header(VIRTIO_BLK_T_IN, 4) },
    { len: 512, writable: true },
    { len: 512, writable: true },
    { len: 1, writable: true },
  ]);

  expect([r.status, r.used.len]).toEqual([VIRTIO_BLK_S_OK, 1025]);
  expect(drv.mem.read(r.addrs[1]!, 1024)).toEqual(image().subarray(4 * 512, 6 * 512));
});
