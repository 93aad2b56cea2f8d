import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { DiskError } from "../../../src/disk/disk_file.ts";
import { openDisk } from "../../../src/disk/open.ts";
import { pattern, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

function rawImage(size: number): string {
  const p = tmp.path("disk.raw");
  writeFileSync(p, new Uint8Array(size));
  return p;
}

describe("raw images", () => {
  test("an image without the qcow2 magic opens as raw with the file's size", () => {
    const d = openDisk(rawImage(1 << 20));
    expect([d.format, d.virtualSize()]).toEqual(["raw", 1 << 20]);
    d.close();
  });

  test("written bytes read back", () => {
    const d = openDisk(rawImage(1 << 20));
    d.writeAt(pattern(1000, 1), 4097);
    const back = new Uint8Array(1000);
    d.readAt(back, 4097);
    expect(back).toEqual(pattern(1000, 1));
    d.close();
  });

  test("with O_DIRECT an unaligned write keeps the bytes around it", () => {
    const p = rawImage(1 << 20);
    writeFileSync(p, pattern(1 << 20, 7));
    const d = openDisk(p, { direct: true });
    d.writeAt(pattern(100, 2), 5000);
    d.close();
    const expected = pattern(1 << 20, 7);
    expected.set(pattern(100, 2), 5000);
    expect(new Uint8Array(readFileSync(p))).toEqual(expected);
  });

  test("with O_DIRECT an unaligned read returns the right bytes", () => {
    const p = rawImage(1 << 20);
    writeFileSync(p, pattern(1 << 20, 9));
    const d = openDisk(p, { direct: true });
    const back = new Uint8Array(3000);
    d.readAt(back, 12345);
    expect(back).toEqual(pattern(1 << 20, 9).subarray(12345, 15345));
    d.close();
  });

  test("with O_DIRECT a write at an unaligned end of file does not grow the file", () => {
    const p = tmp.path("odd.raw");
    writeFileSync(p, new Uint8Array(4096 + 512));
    const d = openDisk(p, { direct: true });
    d.writeAt(pattern(512, 3), 4096);
    d.close();
    expect(statSync(p).size).toBe(4096 + 512);
  });

  test("discard punches a hole that reads as zeros and keeps the size", () => {
    const p = rawImage(1 << 20);
    writeFileSync(p, pattern(1 << 20, 4));
    const d = openDisk(p);
    d.discard(65536, 65536);
    const back = new Uint8Array(65536);
    d.readAt(back, 65536);
    expect(back.every((b) => b === 0)).toBe(true);
    expect(d.virtualSize()).toBe(1 << 20);
    d.close();
  });

  test("a missing image fails with one line naming the file", () => {
    const p = tmp.path("missing.img");
    expect(() => openDisk(p)).toThrow(new DiskError(p, "cannot open: No such file or directory"));
  });

  test("an image opened read-only reports readOnly", () => {
    const d = openDisk(rawImage(4096), { readOnly: true });
    expect(d.readOnly).toBe(true);
    d.close();
  });
});

describe("vectored raw I/O (one preadv/pwritev per multi-segment request)", () => {
  test("readVectored fills several buffers in order from one offset (preadv)", () => {
    const p = rawImage(1 << 20);
    writeFileSync(p, pattern(1 << 20, 3));
    const d = openDisk(p);
    const bufs = [new Uint8Array(512), new Uint8Array(4096), new Uint8Array(1000)];
    d.readVectored!(bufs, 8192);
    expect(Buffer.concat(bufs)).toEqual(Buffer.from(pattern(1 << 20, 3).subarray(8192, 8192 + 5608)));
    d.close();
  });

  test("readVectored past the end of the file reads zeros", () => {
    const p = rawImage(4096);
    writeFileSync(p, pattern(4096, 4));
    const d = openDisk(p);
    const bufs = [new Uint8Array(1024).fill(9), new Uint8Array(1024).fill(9)];
    d.readVectored!(bufs, 3072);
    expect(bufs[0]).toEqual(pattern(4096, 4).subarray(3072));
    expect(bufs[1]!.every((b) => b === 0)).toBe(true);
    d.close();
  });

  test("writeVectored writes its buffers back to back (pwritev)", () => {
    const p = rawImage(1 << 20);
    const d = openDisk(p);
    d.writeVectored!([pattern(700, 5), pattern(4096, 6)], 10_000);
    d.close();
    const file = readFileSync(p);
    expect(file.subarray(10_000, 10_700)).toEqual(Buffer.from(pattern(700, 5)));
    expect(file.subarray(10_700, 14_796)).toEqual(Buffer.from(pattern(4096, 6)));
  });

  test("more buffers than IOV_MAX are read in several preadv calls", () => {
    const p = rawImage(1 << 20);
    writeFileSync(p, pattern(1 << 20, 8));
    const d = openDisk(p);
    const bufs = Array.from({ length: 1500 }, () => new Uint8Array(512));
    d.readVectored!(bufs, 0);
    expect(Buffer.concat(bufs)).toEqual(Buffer.from(pattern(1 << 20, 8).subarray(0, 1500 * 512)));
    d.close();
  });
});
