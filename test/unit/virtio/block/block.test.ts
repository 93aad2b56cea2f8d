import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from "../../../../src/devices/virtio/block/constants.ts";
import { type BlockOptions, VirtioBlock } from "../../../../src/devices/virtio/block/device.ts";
import { decodeRequest } from "../../../../src/devices/virtio/block/request.ts";
import { featureBit } from "../../../../src/devices/virtio/constants.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import { blockOnImage, requestHeader, useTempDir } from "./fixture.ts";

const tempDir = useTempDir("crosvm-ts-blk-");

const DISK_SIZE = 1 << 20;

const header = requestHeader;

function segment(sector: number, sectors: number, flags = 0): Uint8Array {
  const s = new Uint8Array(16);
  const v = new DataView(s.buffer);
  v.setBigUint64(0, BigInt(sector), true);
  v.setUint32(8, sectors, true);
  v.setUint32(12, flags, true);
  return s;
}

function fill(n: number, byte: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(n).fill(byte);
}

function setup(options: Partial<Omit<BlockOptions, "disk">> = {}, content?: Uint8Array) {
  return blockOnImage(tempDir(), content ?? new Uint8Array(DISK_SIZE), options);
}

describe("request decoding (5.2.6)", () => {
  test("a read decodes its sector and data length", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([
      { data: header(VIRTIO_BLK_T_IN, 7) },
      { len: 1024, writable: true },
      { len: 1, writable: true },
    ]);
    expect(decodeRequest(drv.queue.pop()!).request).toEqual({ kind: "in", sector: 7, length: 1024 });
  });

  test("a read that is not whole sectors is invalid (5.2.6.1: data MUST be a multiple of 512 bytes)", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([
      { data: header(VIRTIO_BLK_T_IN, 0) },
      { len: 100, writable: true },
      { len: 1, writable: true },
    ]);
    expect(decodeRequest(drv.queue.pop()!).request.kind).toBe("invalid");
  });

  test("a short header is invalid", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([{ data: new Uint8Array(8) }, { len: 1, writable: true }]);
    expect(decodeRequest(drv.queue.pop()!).request).toMatchObject({ kind: "invalid" });
  });

  test("a chain with no writable byte cannot be answered", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }]);
    expect(() => decodeRequest(drv.queue.pop()!)).toThrow("no place for a status");
  });

  test("discard segments decode with their flags", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([
      { data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) },
      { data: segment(8, 16, 1) },
      { len: 1, writable: true },
    ]);
    expect(decodeRequest(drv.queue.pop()!).request).toEqual({
      kind: "write_zeroes",
      segments: [{ sector: 8, sectors: 16, unmap: true }],
    });
  });

  test("an unmap flag on a discard is refused (5.2.6.2)", () => {
    const drv = new FakeDriverQueue();
    drv.activate();
    drv.addChain([
      { data: header(VIRTIO_BLK_T_DISCARD, 0) },
      { data: segment(8, 16, 1) },
      { len: 1, writable: true },
    ]);
    expect(decodeRequest(drv.queue.pop()!).request.kind).toBe("invalid");
  });
});

describe("request execution against a temp file", () => {
  test("a read returns the file's bytes and OK", () => {
    const content = new Uint8Array(DISK_SIZE);
    content.fill(0xab, 1024, 2048);
    const { submit, drv } = setup({}, content);
    const r = submit([
      { data: header(VIRTIO_BLK_T_IN, 2) },
      { len: 1024, writable: true },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(drv.mem.read(r.addrs[1]!, 1024)).toEqual(fill(1024, 0xab));
    expect(r.used.len).toBe(1025);
  });

  test("a write lands in the file", () => {
    const { submit, path } = setup();
    const r = submit([
      { data: header(VIRTIO_BLK_T_OUT, 4) },
      { data: fill(512, 0x5a) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(new Uint8Array(readFileSync(path)).subarray(2048, 2560)).toEqual(fill(512, 0x5a));
  });

  test("flush completes with OK", () => {
    const { submit } = setup();
    expect(submit([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]).status).toBe(
      VIRTIO_BLK_S_OK,
    );
  });

  test("GET_ID returns the id padded to 20 bytes", () => {
    const { submit, drv } = setup({ id: "MYSERIAL" });
    const r = submit([
      { data: header(VIRTIO_BLK_T_GET_ID, 0) },
      { len: 20, writable: true },
      { len: 1, writable: true },
    ]);
    const expected = new Uint8Array(20);
    expected.set(new TextEncoder().encode("MYSERIAL"));
    expect(drv.mem.read(r.addrs[1]!, 20)).toEqual(expected);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
  });

  test("discard punches a hole that reads back as zeros", () => {
    const { submit, path } = setup({}, fill(DISK_SIZE, 0x11));
    const r = submit([
      { data: header(VIRTIO_BLK_T_DISCARD, 0) },
      { data: segment(128, 128) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    const after = new Uint8Array(readFileSync(path));
    expect(after.subarray(65536, 131072).every((b) => b === 0)).toBe(true);
    expect(after[65535]).toBe(0x11);
  });

  test("write_zeroes zeroes the range", () => {
    const { submit, path } = setup({}, fill(DISK_SIZE, 0x22));
    const r = submit([
      { data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) },
      { data: segment(1, 2) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    const after = new Uint8Array(readFileSync(path));
    expect(after.subarray(512, 1536).every((b) => b === 0)).toBe(true);
    expect(after[1536]).toBe(0x22);
  });

  test("a write to a read-only disk fails with IOERR and leaves the file alone", () => {
    const { submit, path } = setup({ readOnly: true });
    const r = submit([
      { data: header(VIRTIO_BLK_T_OUT, 0) },
      { data: fill(512, 1) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(new Uint8Array(readFileSync(path)).subarray(0, 512).every((b) => b === 0)).toBe(true);
  });

  test("a flush on a read-only disk fails with IOERR, as crosvm answers", () => {
    const { submit } = setup({ readOnly: true });
    expect(submit([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]).status).toBe(
      VIRTIO_BLK_S_IOERR,
    );
  });

  test("a read from a read-only disk succeeds", () => {
    const { submit } = setup({ readOnly: true });
    const r = submit([
      { data: header(VIRTIO_BLK_T_IN, 0) },
      { len: 512, writable: true },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
  });

  test("discard on a non-sparse disk is ignored and answers OK, as crosvm does", () => {
    const { submit, path } = setup({ sparse: false }, fill(DISK_SIZE, 0x33));
    const r = submit([
      { data: header(VIRTIO_BLK_T_DISCARD, 0) },
      { data: segment(0, 8) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(new Uint8Array(readFileSync(path))[0]).toBe(0x33);
  });

  test("a discard segment past the end fails with IOERR", () => {
    const { submit } = setup();
    const r = submit([
      { data: header(VIRTIO_BLK_T_DISCARD, 0) },
      { data: segment(DISK_SIZE / 512 - 1, 2) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
  });

  test("an unknown request type answers UNSUPP", () => {
    const { submit } = setup();
    expect(submit([{ data: header(99, 0) }, { len: 1, writable: true }]).status).toBe(VIRTIO_BLK_S_UNSUPP);
  });

  test("read data put in a device-readable buffer is refused with IOERR (2.7.4.2)", () => {
    const { submit } = setup();
    const r = submit([
      { data: header(VIRTIO_BLK_T_IN, 0) },
      { data: new Uint8Array(512) },
      { len: 1, writable: true },
    ]);
    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
  });

  test("with O_DIRECT an unaligned read and write go through the bounce buffer", () => {
    const path = join(tempDir(), "direct.img");
    writeFileSync(path, fill(DISK_SIZE, 0x44));
    const dev = new VirtioBlock({
      disk: openDisk(path, { direct: true }),
      readOnly: false,
      sparse: true,
      blockSize: 512,
    });
    const drv = new FakeDriverQueue(16);
    dev.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    drv.addChain([
      { data: header(VIRTIO_BLK_T_OUT, 3) },
      { data: fill(512, 0x55) },
      { len: 1, writable: true },
    ]);
    const { addrs } = drv.addChain([
      { data: header(VIRTIO_BLK_T_IN, 2) },
      { len: 1536, writable: true },
      { len: 1, writable: true },
    ]);
    dev.queueNotify(0);
    const expected = fill(1536, 0x44);
    expected.fill(0x55, 512, 1024);
    expect(drv.mem.read(addrs[1]!, 1536)).toEqual(expected);
    expect(drv.mem.readU8(addrs[2]!)).toBe(VIRTIO_BLK_S_OK);
  });

  test("a completed request raises the queue interrupt", () => {
    const { submit, irq } = setup();
    submit([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]);
    expect(irq.usedQueueVectors.length).toBe(1);
  });
});

describe("features and configuration (5.2.3, 5.2.4)", () => {
  test("ro offers VIRTIO_BLK_F_RO and neither DISCARD nor FLUSH", () => {
    const { dev } = setup({ readOnly: true });
    expect(dev.features() & featureBit(VIRTIO_BLK_F_RO)).not.toBe(0n);
    expect(dev.features() & (featureBit(VIRTIO_BLK_F_DISCARD) | featureBit(VIRTIO_BLK_F_FLUSH))).toBe(0n);
  });

  test("sparse=false does not offer DISCARD and preallocates the file", () => {
    const path = join(tempDir(), "prealloc.img");
    writeFileSync(path, new Uint8Array(0));
    truncateSync(path, DISK_SIZE);
    expect(statSync(path).blocks).toBe(0);
    const dev = new VirtioBlock({ disk: openDisk(path), readOnly: false, sparse: false, blockSize: 512 });
    expect(dev.features() & featureBit(VIRTIO_BLK_F_DISCARD)).toBe(0n);
    expect(statSync(path).blocks * 512).toBeGreaterThanOrEqual(DISK_SIZE);
  });

  test("config space reports capacity in 512-byte sectors and blk_size", () => {
    const { dev } = setup({ blockSize: 4096 });
    const c = new Uint8Array(24);
    dev.readConfig(0, c);
    const v = new DataView(c.buffer);
    expect(v.getBigUint64(0, true)).toBe(BigInt(DISK_SIZE / 512));
    expect(v.getUint32(20, true)).toBe(4096);
  });

  test("a block size that is not a power of two is refused naming the image", () => {
    const path = join(tempDir(), "x.img");
    writeFileSync(path, new Uint8Array(4096));
    expect(
      () => new VirtioBlock({ disk: openDisk(path), readOnly: false, sparse: true, blockSize: 1000 }),
    ).toThrow(`--block ${path}: block-size 1000 is not a power of two >= 512`);
  });

  test("an id longer than 20 characters is refused", () => {
    const path = join(tempDir(), "y.img");
    writeFileSync(path, new Uint8Array(4096));
    expect(
      () =>
        new VirtioBlock({
          disk: openDisk(path),
          readOnly: false,
          sparse: true,
          blockSize: 512,
          id: "x".repeat(21),
        }),
    ).toThrow("is not at most 20 printable ASCII characters");
  });

  test("a resize grows the file, updates capacity and signals a configuration change", () => {
    const { dev, irq, path } = setup();
    dev.resize(DISK_SIZE * 2);
    expect(statSync(path).size).toBe(DISK_SIZE * 2);
    expect(dev.capacitySectors).toBe((DISK_SIZE * 2) / 512);
    expect(irq.configChanges).toBe(1);
  });
});
