// Differential test: the same random requests go to a block device over a raw image (which takes the
// preadv/pwritev fast path for plain reads and writes) and to one over the same image seen through a DiskFile
// without iovec support (always the general Reader/Writer path). Guest memory, used lengths and the image must
// end up identical. Seeded, so a failure names the iteration that reproduces it.
import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../../../src/devices/virtio/block/constants.ts";
import { VirtioBlock } from "../../../../src/devices/virtio/block/device.ts";
import {
  type BufferSpec,
  FakeDriverQueue,
  FakeInterrupt,
  mulberry32,
} from "../../../../src/devices/virtio/testing.ts";
import type { DiskFile } from "../../../../src/disk/disk_file.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import { useTempDir } from "./fixture.ts";

const ITERATIONS = 3000;
const SEED = 0xb10c_0001;
const DISK_SECTORS = 128;

const tempDir = useTempDir("crosvm-ts-blk-equiv-");

/** `disk` without readIovecs/writeIovecs, so the device never takes the fast path. */
function withoutIovecs(disk: DiskFile): DiskFile {
  return {
    path: disk.path,
    format: disk.format,
    readOnly: disk.readOnly,
    virtualSize: () => disk.virtualSize(),
    readAt: (b, o) => disk.readAt(b, o),
    writeAt: (b, o) => disk.writeAt(b, o),
    readVectored: (b, o) => disk.readVectored!(b, o),
    writeVectored: (b, o) => disk.writeVectored!(b, o),
    flush: () => disk.flush(),
    discard: (o, l) => disk.discard(o, l),
    writeZeroes: (o, l, u) => disk.writeZeroes(o, l, u),
    allocateAll: () => disk.allocateAll(),
    resize: (s) => disk.resize(s),
    close: () => disk.close(),
  };
}

test(`${ITERATIONS} random read/write requests give the same results on the fast and the general path`, () => {
  const rand = mulberry32(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  const content = Uint8Array.from({ length: DISK_SECTORS * 512 }, (_, i) => (i * 13 + 7) & 0xff);
  const paths = [join(tempDir(), "fast.img"), join(tempDir(), "general.img")];
  for (const p of paths) writeFileSync(p, content);
  const fastDisk = openDisk(paths[0]!);
  const devices = [
    new VirtioBlock({ disk: fastDisk, readOnly: false, sparse: true, blockSize: 512 }),
    new VirtioBlock({
      disk: withoutIovecs(openDisk(paths[1]!)),
      readOnly: false,
      sparse: true,
      blockSize: 512,
    }),
  ];
  const mismatches: string[] = [];

  for (let it = 0; it < ITERATIONS && mismatches.length < 5; it++) {
    const header = new Uint8Array(16);
    const hv = new DataView(header.buffer);
    hv.setUint32(
      0,
      [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH][int(5)]!,
      true,
    );
    hv.setBigUint64(
      8,
      int(10) === 0 ? BigInt(int(2 ** 32)) << BigInt(int(32)) : BigInt(int(DISK_SECTORS + 8)),
      true,
    );
    const write = hv.getUint32(0, true) === VIRTIO_BLK_T_OUT;
    const buffers: BufferSpec[] = [];
    if (int(10) === 0) buffers.push({ data: header.subarray(0, 8) }, { data: header.subarray(8) });
    else buffers.push({ data: int(20) === 0 ? header.subarray(0, 12) : header });
    for (let n = int(5); n > 0; n--) {
      const len = [512, 1024, 4096, 100, 0, 512][int(6)]!;
      const writable = int(12) === 0 ? write : !write;
      buffers.push(writable ? { len, writable } : { data: Uint8Array.from({ length: len }, () => int(256)) });
    }
    if (int(15) !== 0) buffers.push({ len: int(10) === 0 ? 2 : 1, writable: int(20) !== 0 });
    if (buffers.length === 0) continue;

    const results = devices.map((dev) => {
      const drv = new FakeDriverQueue(16, undefined, 0x40000);
      dev.reset();
      dev.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
      drv.addChain(buffers);
      dev.queueNotify(0);
      return {
        used: drv.usedIdx() === 1 ? drv.usedElem(0) : undefined,
        ram: drv.mem.slice(0, drv.mem.regions[0]!.size),
      };
    });
    const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
    if (JSON.stringify(a.used) !== JSON.stringify(b.used) || Buffer.compare(a.ram, b.ram) !== 0)
      mismatches.push(`iteration ${it}: used ${JSON.stringify(a.used)} vs ${JSON.stringify(b.used)}`);
  }

  expect(mismatches).toEqual([]);
  expect(Buffer.compare(readFileSync(paths[0]!), readFileSync(paths[1]!))).toBe(0);
});
