// virtio-pmem (virtio 1.2 section 5.19): the configuration space and the flush request, against a fake driver.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { close, O_CLOEXEC, O_RDWR, open } from "../../../ffi/libc.ts";
import {
  fileSync,
  PMEM_CONFIG_BYTES,
  VIRTIO_ID_PMEM,
  VIRTIO_PMEM_REQ_TYPE_FLUSH,
  VIRTIO_PMEM_RESP_EIO,
  VIRTIO_PMEM_RESP_OK,
  VirtioPmem,
} from "../../../src/devices/virtio/pmem/device.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

const START = 0x1_8000_0000;
const SIZE = 0x40_0000;

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** A device over a fake driver queue; `sync` records each flush with the used index the guest saw then. */
function rig(sync?: () => void) {
  const drv = new FakeDriverQueue();
  const flushes: number[] = [];
  const pmem = new VirtioPmem({
    start: START,
    size: SIZE,
    sync: sync ?? (() => flushes.push(drv.usedIdx())),
  });
  pmem.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
  /** Queues one request (device-readable type, device-writable response) and returns the response address. */
  const request = (type: Uint8Array, respLen = 4) =>
    drv.addChain([{ data: type }, ...(respLen > 0 ? [{ len: respLen, writable: true }] : [])]).addrs[1];
  return { drv, pmem, flushes, request };
}

describe("virtio-pmem configuration space (5.19.4)", () => {
  test("start and size are little-endian u64s at offsets 0 and 8", () => {
    const pmem = new VirtioPmem({ start: START, size: SIZE, sync: () => {} });
    const data = new Uint8Array(PMEM_CONFIG_BYTES);

    pmem.readConfig(0, data);

    const dv = new DataView(data.buffer);
    expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true)]).toEqual([BigInt(START), BigInt(SIZE)]);
  });

  test("a 4-byte read of the high half of start gives its upper 32 bits", () => {
    const pmem = new VirtioPmem({ start: START, size: SIZE, sync: () => {} });
    const data = new Uint8Array(4);

    pmem.readConfig(4, data);

    expect(new DataView(data.buffer).getUint32(0, true)).toBe(1);
  });

  test("reads past the 16 bytes are zero", () => {
    const pmem = new VirtioPmem({ start: START, size: SIZE, sync: () => {} });
    const data = new Uint8Array(8).fill(0xff);

    pmem.readConfig(12, data);

    expect([...data]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test("is device type 27 with one queue", () => {
    const pmem = new VirtioPmem({ start: START, size: SIZE, sync: () => {} });

    expect([pmem.deviceType, pmem.queueMaxSizes.length]).toEqual([VIRTIO_ID_PMEM, 1]);
  });
});

describe("virtio-pmem flush request (5.19.6)", () => {
  test("the file is synced before the request is completed, and the response is 0", () => {
    const { drv, pmem, flushes, request } = rig();
    const resp = request(le32(VIRTIO_PMEM_REQ_TYPE_FLUSH))!;

    pmem.queueNotify(0);

    expect(flushes).toEqual([0]);
    expect(drv.usedIdx()).toBe(1);
    expect(drv.mem.readU32(resp)).toBe(VIRTIO_PMEM_RESP_OK);
    expect(drv.usedElem(0).len).toBe(4);
  });

  test("a sync that fails answers EIO (1)", () => {
    const { drv, pmem, request } = rig(() => {
      throw new Error("fdatasync on disk.img failed: EIO");
    });
    const resp = request(le32(VIRTIO_PMEM_REQ_TYPE_FLUSH))!;

    pmem.queueNotify(0);

    expect(drv.mem.readU32(resp)).toBe(VIRTIO_PMEM_RESP_EIO);
  });

  test("an unknown request type answers EIO without syncing", () => {
    const { drv, pmem, flushes, request } = rig();
    const resp = request(le32(7))!;

    pmem.queueNotify(0);

    expect(flushes).toEqual([]);
    expect(drv.mem.readU32(resp)).toBe(VIRTIO_PMEM_RESP_EIO);
  });

  test("a request shorter than its 4-byte type is refused: used with length 0, no sync", () => {
    const { drv, pmem, flushes, request } = rig();
    request(new Uint8Array(2));

    pmem.queueNotify(0);

    expect(flushes).toEqual([]);
    expect(drv.usedElem(0).len).toBe(0);
  });

  test("a request without room for the response is refused without syncing", () => {
    const { drv, pmem, flushes, request } = rig();
    request(le32(VIRTIO_PMEM_REQ_TYPE_FLUSH), 2);

    pmem.queueNotify(0);

    expect(flushes).toEqual([]);
    expect(drv.usedElem(0).len).toBe(0);
  });

  test("the file sync is fdatasync on the device's descriptor (a closed one fails, naming the file)", () => {
    const dir = mkdtempSync(join(tmpdir(), "crosvm-pmem-"));
    writeFileSync(join(dir, "p.img"), new Uint8Array(4096));
    const fd = open(join(dir, "p.img"), O_RDWR | O_CLOEXEC);
    const sync = fileSync(fd, "p.img");

    expect(() => sync()).not.toThrow();
    close(fd);
    expect(() => sync()).toThrow("fdatasync on p.img failed");
  });
});
