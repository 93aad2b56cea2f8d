// What the virtio-blk unit tests share: a temporary folder per test for disk images, the request header
// (virtio spec 5.2.6: le32 type, le32 reserved, le64 sector) and a device over an image file on a fake driver
// queue, with `submit` sending one descriptor chain and returning its status byte and used element.
import { afterEach, beforeEach } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockOptions, VirtioBlock } from "../../../../src/devices/virtio/block/device.ts";
import { type BufferSpec, FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { openDisk } from "../../../../src/disk/open.ts";

/** Registers beforeEach/afterEach hooks around a fresh temporary folder; `dir()` is the current test's. */
export function useTempDir(prefix: string): () => string {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}

export function requestHeader(type: number, sector: number | bigint): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

/** A virtio-blk device over `image` written to dir/disk.img, activated on a 16-entry fake queue. */
export function blockOnImage(
  dir: string,
  image: Uint8Array,
  options: Partial<Omit<BlockOptions, "disk">> = {},
) {
  const path = join(dir, "disk.img");
  writeFileSync(path, image);
  const disk = openDisk(path, { readOnly: options.readOnly });
  const dev = new VirtioBlock({ disk, readOnly: false, sparse: true, blockSize: 512, ...options });
  const drv = new FakeDriverQueue(16);
  const irq = new FakeInterrupt();
  dev.activate(drv.mem, irq, new Map([[0, drv.activate()]]));
  /** Submits one chain and returns its status byte (the last byte of the last buffer) and the used element. */
  const submit = (buffers: BufferSpec[]) => {
    const { addrs } = drv.addChain(buffers);
    const before = drv.usedIdx();
    dev.queueNotify(0);
    const last = buffers.length - 1;
    return {
      status: drv.mem.readU8(addrs[last]! + (buffers[last]!.len ?? 1) - 1),
      used: drv.usedElem(before),
      addrs,
    };
  };
  return { path, dev, drv, irq, submit };
}
