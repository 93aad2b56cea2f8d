import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  DISCARD_SEGMENT_SIZE,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
} from "../../../../src/devices/virtio/block/constants.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import { encodeQcow2Header } from "../../../../src/disk/qcow2/header.ts";
import { addAliasedIndirectChain } from "../aliased_chain.ts";
import { blockOnImage, requestHeader, useTempDir } from "./fixture.ts";

const tempDir = useTempDir("crosvm-ts-blk-hostile-");
const KiB = 1024;
const MiB = 1024 * KiB;

/** A qcow2 header naming /etc/shadow as backing file, as a guest would plant it in sector 0 of its raw disk. */
function plantedQcow2Sector(): Uint8Array {
  const sector = new Uint8Array(512);
  const name = new TextEncoder().encode("/etc/shadow");
  sector.set(
    encodeQcow2Header({
      version: 3,
      backingFileOffset: 200,
      backingFileSize: name.length,
      clusterBits: 16,
      size: MiB,
      cryptMethod: 0,
      l1Size: 1,
      l1TableOffset: 0x30000,
      refcountTableOffset: 0x10000,
      refcountTableClusters: 1,
      nbSnapshots: 0,
      snapshotsOffset: 0,
      incompatibleFeatures: 0n,
      compatibleFeatures: 0n,
      autoclearFeatures: 0n,
      refcountOrder: 4,
      headerLength: 112,
    }),
  );
  sector.set(name, 200);
  return sector;
}

describe("a probed raw image never changes format under the guest", () => {
  test("a write of a qcow2 header to sector 0 gets IOERR and the image stays raw", () => {
    const { path, submit, dev } = blockOnImage(tempDir(), new Uint8Array(MiB));

    const r = submit([
      { data: requestHeader(VIRTIO_BLK_T_OUT, 0) },
      { data: plantedQcow2Sector() },
      { len: 1, writable: true },
    ]);
    dev.disk.close();

    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(new Uint8Array(readFileSync(path).subarray(0, 4))).toEqual(new Uint8Array(4));
    const again = openDisk(path);
    expect(again.format).toBe("raw");
    again.close();
  });

  test("an ordinary write to sector 0 (a partition table) still succeeds", () => {
    const { path, submit, dev } = blockOnImage(tempDir(), new Uint8Array(MiB));
    const mbr = new Uint8Array(512).fill(0x11);

    const r = submit([
      { data: requestHeader(VIRTIO_BLK_T_OUT, 0) },
      { data: mbr },
      { len: 1, writable: true },
    ]);
    dev.disk.close();

    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(new Uint8Array(readFileSync(path).subarray(0, 512))).toEqual(mbr);
  });

  test("a raw image opened with its format given may take any sector 0", () => {
    const { path } = blockOnImage(tempDir(), new Uint8Array(MiB));
    const disk = openDisk(path, { format: "raw" });

    disk.writeAt(plantedQcow2Sector(), 0);
    disk.close();

    expect(openDisk(path).format).toBe("qcow2");
  });
});

describe("request decoding is bounded before any work", () => {
  test("a DISCARD with 64 MiB of segment data gets IOERR in under 50 ms and under 1 MiB of heap growth", () => {
    const { drv, dev } = blockOnImage(tempDir(), new Uint8Array(MiB));
    const header = drv.alloc(16);
    drv.mem.write(header, requestHeader(VIRTIO_BLK_T_DISCARD, 0));
    const segments = drv.alloc(128 * KiB);
    const status = drv.alloc(1);
    addAliasedIndirectChain(drv, [
      { addr: header, len: 16 },
      { addr: segments, len: 128 * KiB, times: 512 },
      { addr: status, len: 1, writable: true },
    ]);
    Bun.gc(true);
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();

    dev.queueNotify(0);

    const elapsed = performance.now() - start;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    expect(drv.mem.readU8(status)).toBe(VIRTIO_BLK_S_IOERR);
    // Refused before any of the 64 MiB is touched: far from the time copying it would take, even on a loaded machine.
    expect(elapsed).toBeLessThan(500);
    expect(heapGrowth).toBeLessThan(MiB);
  });

  test("a WRITE_ZEROES with 33 segments (limit 32) gets IOERR and changes nothing", () => {
    const content = new Uint8Array(MiB).fill(0x5a);
    const { submit, path, dev } = blockOnImage(tempDir(), content);
    const segs = new Uint8Array(33 * DISCARD_SEGMENT_SIZE);
    const v = new DataView(segs.buffer);
    for (let i = 0; i < 33; i++) v.setUint32(i * DISCARD_SEGMENT_SIZE + 8, 1, true);

    const r = submit([
      { data: requestHeader(VIRTIO_BLK_T_WRITE_ZEROES, 0) },
      { data: segs },
      { len: 1, writable: true },
    ]);
    dev.disk.close();

    expect(r.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(new Uint8Array(readFileSync(path))).toEqual(content);
  });

  test("a read-only disk refuses a huge DISCARD the same way, without decoding it", () => {
    const { drv, dev } = blockOnImage(tempDir(), new Uint8Array(MiB), { readOnly: true });
    const header = drv.alloc(16);
    drv.mem.write(header, requestHeader(VIRTIO_BLK_T_DISCARD, 0));
    const segments = drv.alloc(128 * KiB);
    const status = drv.alloc(1);
    addAliasedIndirectChain(drv, [
      { addr: header, len: 16 },
      { addr: segments, len: 128 * KiB, times: 512 },
      { addr: status, len: 1, writable: true },
    ]);

    dev.queueNotify(0);

    expect(drv.mem.readU8(status)).toBe(VIRTIO_BLK_S_IOERR);
  });

  test("a read into 8 MiB of aliased buffers still completes (reads are bounded by the chain, 2^32)", () => {
    const { drv, dev } = blockOnImage(tempDir(), new Uint8Array(8 * MiB));
    const header = drv.alloc(16);
    drv.mem.write(header, requestHeader(VIRTIO_BLK_T_IN, 0));
    const data = drv.alloc(128 * KiB);
    const status = drv.alloc(1);
    addAliasedIndirectChain(drv, [
      { addr: header, len: 16 },
      { addr: data, len: 128 * KiB, writable: true, times: 64 },
      { addr: status, len: 1, writable: true },
    ]);

    dev.queueNotify(0);

    expect(drv.mem.readU8(status)).toBe(VIRTIO_BLK_S_OK);
  });
});
