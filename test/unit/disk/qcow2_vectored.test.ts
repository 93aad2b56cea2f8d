// qcow2 multi-segment reads and writes (src/disk/qcow2/qcow2.ts readVectored/writeVectored): one host call per run
// of clusters that read alike, with the same bytes as readAt/writeAt piece by piece.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import type { DiskFile } from "../../../src/disk/disk_file.ts";
import { openDisk } from "../../../src/disk/open.ts";
import { createQcow2 } from "../../../src/disk/qcow2/create.ts";
import type { Qcow2Disk } from "../../../src/disk/qcow2/qcow2.ts";
import { pattern, tempDir } from "./helpers.ts";

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.remove());

const KIB = 1024;
const MIB = 1024 * KIB;
const CLUSTER = 4 * KIB;

/** Views over one buffer of `length` bytes, of the sizes in `sizes` repeated (the last one cut to fit). */
function segments(buffer: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < buffer.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, buffer.length - at);
    out.push(buffer.subarray(at, at + n));
    at += n;
  }
  return out;
}

/**
 * An 8 MiB overlay (4 KiB clusters) over a backing file of 4 MiB + 123 bytes, with allocated clusters (some back
 * to back in the file, some not), zero clusters and unwritten ones, and its expected contents.
 */
function mixedOverlay(): { disk: DiskFile; model: Uint8Array<ArrayBuffer> } {
  const backing = pattern(4 * MIB + 123, 7);
  writeFileSync(tmp.path("base.raw"), backing);
  const path = tmp.path("overlay.qcow2");
  createQcow2(path, 8 * MIB, { clusterBits: 12, backingFile: "base.raw", backingFormat: "raw" });
  const disk = openDisk(path);
  const model: Uint8Array<ArrayBuffer> = new Uint8Array(8 * MIB);
  model.set(backing);
  const write = (offset: number, data: Uint8Array) => {
    disk.writeAt(data, offset);
    model.set(data, offset);
  };
  write(10 * CLUSTER + 100, pattern(3 * CLUSTER, 1)); // clusters 10-13, allocated in order
  write(40 * CLUSTER, pattern(CLUSTER, 2));
  write(20 * CLUSTER, pattern(CLUSTER, 3)); // after cluster 40 in the file
  write(21 * CLUSTER, pattern(CLUSTER, 4));
  disk.writeZeroes(30 * CLUSTER, 4 * CLUSTER, true);
  model.fill(0, 30 * CLUSTER, 34 * CLUSTER);
  write(4 * MIB - 2 * CLUSTER, pattern(CLUSTER, 5)); // next to the backing file's end
  return { disk, model };
}

test("a vectored read of a qcow2 overlay gives readAt's bytes over allocated, zero, unwritten and past-the-backing clusters", () => {
  const { disk, model } = mixedOverlay();
  const from = 8 * CLUSTER + 17;
  const length = 4 * MIB + 9 * CLUSTER - from;
  const lowBuf = new Uint8Array(50 * CLUSTER);
  const highBuf = new Uint8Array(length - lowBuf.length);

  disk.readVectored!(segments(lowBuf, [512, 4096, 3000, 1, 8192]), from);
  disk.readVectored!(segments(highBuf, [4096, 700]), from + lowBuf.length);

  expect(lowBuf).toEqual(model.subarray(from, from + lowBuf.length));
  expect(highBuf).toEqual(model.subarray(from + lowBuf.length, from + length));
  disk.close();
});

test("a multi-segment read over an overlay's unwritten clusters is one vectored read of the backing file", () => {
  const { disk } = mixedOverlay();
  const backing = (disk as Qcow2Disk).backing!;
  const calls: number[] = [];
  const readVectored = backing.readVectored!.bind(backing);
  backing.readVectored = (bufs, offset) => {
    calls.push(offset);
    readVectored(bufs, offset);
  };

  disk.readVectored!(segments(new Uint8Array(64 * CLUSTER), [CLUSTER]), 100 * CLUSTER);

  expect(calls).toEqual([100 * CLUSTER]);
  disk.close();
});

test("a vectored write gives the image writeAt gives, over allocated, zero and unwritten clusters, after reopening", () => {
  const { disk, model } = mixedOverlay();
  const from = 9 * CLUSTER + 5;
  const data = pattern(30 * CLUSTER, 9);

  disk.writeVectored!(segments(data, [4096, 100, 9000]), from);
  model.set(data, from);
  disk.close();
  const reopened = openDisk(tmp.path("overlay.qcow2"));
  const back = new Uint8Array(8 * MIB);
  reopened.readAt(back, 0);

  expect(back).toEqual(model);
  reopened.close();
});

test("a vectored read past the virtual size fails naming the image", () => {
  const { disk } = mixedOverlay();

  expect(() =>
    disk.readVectored!([new Uint8Array(CLUSTER), new Uint8Array(CLUSTER)], 8 * MIB - CLUSTER),
  ).toThrow(`disk image ${tmp.path("overlay.qcow2")}: access`);
  disk.close();
});
