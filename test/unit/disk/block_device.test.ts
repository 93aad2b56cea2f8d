// A host block device as a disk (issue 14 item 6), on a loop device; skipped where losetup cannot attach one.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { CONFIG_BLK_SIZE, CONFIG_CAPACITY } from "../../../src/devices/virtio/block/constants.ts";
import { VirtioBlock } from "../../../src/devices/virtio/block/device.ts";
import { openDisk } from "../../../src/disk/open.ts";
import { pattern, tempDir } from "./helpers.ts";

const MiB = 1 << 20;

function losetup(...args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(["losetup", ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: (p.stdout.toString() + p.stderr.toString()).trim() };
}

/** Whether a loop device can be attached here (root, /dev/loop-control). */
const canLoop = (() => {
  if (Bun.which("losetup") === null) return false;
  const t = tempDir();
  try {
    writeFileSync(t.path("probe.img"), new Uint8Array(MiB));
    const r = losetup("-f", "--show", t.path("probe.img"));
    if (r.code !== 0) return false;
    losetup("-d", r.out);
    return true;
  } finally {
    t.remove();
  }
})();

let tmp: ReturnType<typeof tempDir>;
let loops: string[] = [];
beforeEach(() => {
  tmp = tempDir();
  loops = [];
});
afterEach(() => {
  for (const l of loops) losetup("-d", l);
  tmp.remove();
});

/** Attaches a loop device over a new file of `size` bytes holding `content`; returns the device and the file. */
function loopDevice(size: number, content?: Uint8Array, sectorSize = 512): { dev: string; file: string } {
  const file = tmp.path("backing.img");
  const bytes = new Uint8Array(size);
  if (content) bytes.set(content);
  writeFileSync(file, bytes);
  const r = losetup("-f", "--show", "-b", String(sectorSize), file);
  if (r.code !== 0) throw new Error(`losetup: ${r.out}`);
  loops.push(r.out);
  return { dev: r.out, file };
}

describe.skipIf(!canLoop)("a host block device (loop device) as a raw disk", () => {
  test("its size comes from BLKGETSIZE64, not st_size (which is 0)", () => {
    const { dev } = loopDevice(8 * MiB);
    const d = openDisk(dev);
    expect([d.format, d.virtualSize()]).toEqual(["raw", 8 * MiB]);
    d.close();
  });

  test("contents read back and a write reaches the backing file", () => {
    const { dev, file } = loopDevice(4 * MiB, pattern(MiB, 1));
    const d = openDisk(dev);
    const back = new Uint8Array(MiB);
    d.readAt(back, 0);
    d.writeAt(pattern(4096, 2), 2 * MiB);
    d.flush();
    d.close();

    expect(back).toEqual(pattern(MiB, 1));
    expect(new Uint8Array(readFileSync(file)).subarray(2 * MiB, 2 * MiB + 4096)).toEqual(pattern(4096, 2));
  });

  test("the guest's block size is raised to the device's logical block size (BLKSSZGET)", () => {
    const { dev } = loopDevice(4 * MiB, undefined, 4096);
    const blk = new VirtioBlock({ disk: openDisk(dev), readOnly: false, sparse: true, blockSize: 512 });
    const config = new DataView(blk.configSpace().buffer);
    expect(config.getUint32(CONFIG_BLK_SIZE, true)).toBe(4096);
    expect(Number(config.getBigUint64(CONFIG_CAPACITY, true))).toBe((4 * MiB) / 512);
    blk.disk.close();
  });

  test("write-zeroes makes the range read as zeros; an unaligned range is zeroed too", () => {
    const { dev } = loopDevice(4 * MiB, pattern(4 * MiB, 3));
    const d = openDisk(dev);
    d.writeZeroes(MiB, 64 * 1024, false);
    d.writeZeroes(3 * MiB + 100, 1000, true);
    const a = new Uint8Array(64 * 1024);
    const b = new Uint8Array(1000);
    d.readAt(a, MiB);
    d.readAt(b, 3 * MiB + 100);
    d.close();
    expect(a.every((x) => x === 0)).toBe(true);
    expect(b.every((x) => x === 0)).toBe(true);
  });

  test("discard either zeroes the range or is refused by the device, never corrupting the rest", () => {
    const { dev } = loopDevice(4 * MiB, pattern(4 * MiB, 4));
    const d = openDisk(dev);
    let refused = false;
    try {
      d.discard(MiB, MiB);
    } catch {
      refused = true;
    }
    const rest = new Uint8Array(MiB);
    d.readAt(rest, 2 * MiB);
    const range = new Uint8Array(MiB);
    d.readAt(range, MiB);
    d.close();
    expect(rest).toEqual(pattern(4 * MiB, 4).subarray(2 * MiB, 3 * MiB));
    if (!refused) expect(range.every((x) => x === 0)).toBe(true);
  });

  test("resize is refused with one line naming the device", () => {
    const { dev } = loopDevice(4 * MiB);
    const d = openDisk(dev);
    expect(() => d.resize(8 * MiB)).toThrow(
      `disk image ${dev}: is a host block device: its size is the device's and cannot be changed`,
    );
    d.close();
  });

  test("O_DIRECT reads and writes on a 4096-byte-sector device work at unaligned offsets", () => {
    const { dev } = loopDevice(4 * MiB, pattern(4 * MiB, 5), 4096);
    const d = openDisk(dev, { direct: true });
    d.writeAt(pattern(1000, 6), 5000);
    const back = new Uint8Array(3000);
    d.readAt(back, 4000);
    d.close();
    const expected = pattern(4 * MiB, 5).slice(4000, 7000);
    expected.set(pattern(1000, 6), 1000);
    expect(back).toEqual(expected);
  });

  test("a block device cannot be a qcow2 backing file", async () => {
    const { dev } = loopDevice(MiB);
    const { createQcow2 } = await import("../../../src/disk/qcow2/create.ts");
    const p = tmp.path("o.qcow2");
    createQcow2(p, MiB, { backingFile: dev, backingFormat: "raw" });
    expect(() => openDisk(p)).toThrow(`${dev}: is not a regular file`);
  });
});
