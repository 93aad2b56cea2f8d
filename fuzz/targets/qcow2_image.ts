// Fuzz target: hostile qcow2 images. Seed images (written by our creator, with data in them, at 512-byte and
// 4 KiB clusters, versions 3 and 2) are mutated, in the header more often than in the tables, written to a memfd
// and opened through /proc/self/fd, read-only or writable; then a few reads, writes and discards run on the disk.
// Checked: nothing fails with an error other than a DiskError (a bad image named in one line), the file does not
// grow beyond what the writes need, and memory stays bounded.
import { fstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { MemoryBound } from "../memory_bound.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MFD_CLOEXEC, close, ftruncate, memfdCreate, pwrite } from "../../ffi/libc.ts";
import { DiskError, type DiskFile } from "../../src/disk/disk_file.ts";
import { openDisk } from "../../src/disk/open.ts";
import { createQcow2 } from "../../src/disk/qcow2/create.ts";
import { type FuzzReport, Rng, mutate, recordFailure } from "../random.ts";

const VIRTUAL_SIZE = 256 * 1024;

/** The seed corpus: small valid images with some clusters allocated. */
function seedImages(): Uint8Array[] {
  const dir = mkdtempSync(join(tmpdir(), "crosvm-ts-fuzz-qcow2-"));
  try {
    return [9, 12].flatMap((clusterBits, i) => {
      const p = join(dir, `seed${i}.qcow2`);
      createQcow2(p, VIRTUAL_SIZE, { clusterBits });
      const d = openDisk(p);
      d.writeAt(new Uint8Array(3000).fill(0xa5), 1000);
      d.writeAt(new Uint8Array(512).fill(0x5a), VIRTUAL_SIZE - 512);
      d.close();
      const v3 = new Uint8Array(readFileSync(p));
      // The same image as version 2 (a 72-byte header; the v3 fields are then ignored).
      const v2 = v3.slice();
      new DataView(v2.buffer).setUint32(4, 2);
      return [v3, v2];
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function exercise(rng: Rng, disk: DiskFile): void {
  const size = Math.min(disk.virtualSize(), 4 * VIRTUAL_SIZE);
  const buf = new Uint8Array(rng.pick([1, 512, 4096, 9000]));
  for (let i = 0; i < 4; i++) {
    const at = size > buf.length ? rng.int(size - buf.length) : 0;
    const op = rng.int(disk.readOnly ? 1 : 3);
    if (op === 0) disk.readAt(buf, at);
    else if (op === 1) disk.writeAt(buf, at);
    else disk.discard(at, rng.int(3 * 4096));
  }
}

export function fuzzQcow2Images(iterations: number, seed: number): FuzzReport {
  const rng = new Rng(seed);
  const failures: string[] = [];
  const stats = { opened: 0, refused: 0, opFailed: 0 };
  const seeds = seedImages();
  const fd = memfdCreate("qcow2-fuzz", MFD_CLOEXEC);
  const path = `/proc/self/fd/${fd}`;
  const memory = new MemoryBound();
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const image = rng.pick(seeds).slice();
      const inHeader = rng.chance(0.6);
      mutate(rng, image, rng.int(6) + 1, 0, inHeader ? 128 : image.length);
      ftruncate(fd, 0, path);
      pwrite(fd, image, 0, path);
      let disk: DiskFile | undefined;
      try {
        disk = openDisk(path, { readOnly: rng.chance(0.3), format: "qcow2" });
        stats.opened++;
        exercise(rng, disk);
      } catch (e) {
        if (!(e instanceof DiskError))
          recordFailure(failures, `iteration ${iteration}: ${(e as Error).name}: ${(e as Error).message}`);
        else if (disk) stats.opFailed++;
        else stats.refused++;
      } finally {
        disk?.close();
      }
      const grown = fstatSync(fd).size - image.length;
      if (grown > 64 * 4096 + 256 * 1024)
        recordFailure(failures, `iteration ${iteration}: the image grew by ${grown} bytes`);
      if (iteration % 10_000 === 0) {
        const over = memory.check(iteration);
        if (over) recordFailure(failures, over);
      }
    }
  } finally {
    close(fd);
  }
  return { target: "qcow2_image", seed, iterations, failures, stats };
}
