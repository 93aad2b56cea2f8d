// Requests in flight together on an io_uring (block/ring_transfers.ts): a batch of chains gives the same guest
// memory, used elements and image as the same chains one at a time, and a request the ring does not finish is
// done again synchronously or fails with IOERR.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IoRing } from "../../../../src/base/io_ring.ts";
import { ChainBuffers } from "../../../../src/devices/virtio/descriptor_chain.ts";
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
} from "../../../../src/devices/virtio/block/constants.ts";
import { VirtioBlock } from "../../../../src/devices/virtio/block/device.ts";
import { RingTransfers } from "../../../../src/devices/virtio/block/ring_transfers.ts";
import {
  type BufferSpec,
  FakeDriverQueue,
  FakeInterrupt,
  USED_BASE,
} from "../../../../src/devices/virtio/testing.ts";
import { openDisk } from "../../../../src/disk/open.ts";
import type { IovecDisk, IovecList } from "../../../../src/disk/raw.ts";
import { requestHeader, useTempDir } from "./fixture.ts";

const tempDir = useTempDir("crosvm-ts-blk-inflight-");
const SECTORS = 512;
const QUEUE = 64;

function imageFile(name: string): string {
  const path = join(tempDir(), name);
  writeFileSync(
    path,
    Uint8Array.from({ length: SECTORS * 512 }, (_, i) => (i * 31 + 5) & 0xff),
  );
  return path;
}

/** 40 chains on disjoint sectors: reads, writes of two buffers, a flush, and a read past the end. */
function batch(): BufferSpec[][] {
  const chains: BufferSpec[][] = [];
  for (let i = 0; i < 40; i++) {
    const sector = i * 8;
    if (i === 20) chains.push([{ data: requestHeader(VIRTIO_BLK_T_FLUSH, 0) }, { len: 1, writable: true }]);
    else if (i === 30)
      chains.push([
        { data: requestHeader(VIRTIO_BLK_T_IN, SECTORS) },
        { len: 512, writable: true },
        { len: 1, writable: true },
      ]);
    else if (i % 3 === 0)
      chains.push([
        { data: requestHeader(VIRTIO_BLK_T_OUT, sector) },
        { data: new Uint8Array(1024).fill(i) },
        { data: new Uint8Array(512).fill(i + 100) },
        { len: 1, writable: true },
      ]);
    else
      chains.push([
        { data: requestHeader(VIRTIO_BLK_T_IN, sector) },
        { len: 2048, writable: true },
        { len: 1, writable: true },
      ]);
  }
  return chains;
}

/**
 * Submits every chain of `batch()` with one notification; returns the used elements by head and guest RAM without
 * the used ring (whose order is the order of completion).
 */
function runBatch(dev: VirtioBlock) {
  const drv = new FakeDriverQueue(QUEUE * 4, undefined, 4 << 20);
  dev.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
  for (const chain of batch()) drv.addChain(chain);
  dev.queueNotify(0);
  const used = Array.from({ length: drv.usedIdx() }, (_, i) => drv.usedElem(i)).sort((a, b) => a.id - b.id);
  const ram = drv.mem.slice(0, drv.mem.regions[0]!.size);
  ram.fill(0, USED_BASE + 4, USED_BASE + 4 + 8 * drv.size);
  return { used, ram };
}

describe("virtio-blk with requests in flight", () => {
  test("a raw image without O_DIRECT gets an io_uring, an O_DIRECT one does not", () => {
    const path = imageFile("disk.img");

    const buffered = new VirtioBlock({
      disk: openDisk(path, { lock: false }),
      readOnly: false,
      sparse: true,
      blockSize: 512,
      inFlight: true,
    });
    const direct = new VirtioBlock({
      disk: openDisk(path, { direct: true, lock: false }),
      readOnly: false,
      sparse: true,
      blockSize: 512,
      inFlight: true,
    });

    expect(buffered.ringInFlight).toBe(true);
    expect(direct.ringInFlight).toBe(false);
  });

  test("a batch of 40 chains leaves the same used elements, guest memory and image as one request at a time", () => {
    const paths = [imageFile("ring.img"), imageFile("sync.img")];
    const devices = paths.map(
      (p, i) =>
        new VirtioBlock({
          disk: openDisk(p),
          readOnly: false,
          sparse: true,
          blockSize: 512,
          inFlight: i === 0,
        }),
    );

    const [ring, sync] = devices.map(runBatch) as [ReturnType<typeof runBatch>, ReturnType<typeof runBatch>];

    expect(devices[0]!.ringInFlight).toBe(true);
    expect(ring.used).toHaveLength(40);
    expect(ring.used).toEqual(sync.used);
    expect(Buffer.compare(ring.ram, sync.ram)).toBe(0);
    expect(Buffer.compare(readFileSync(paths[0]!), readFileSync(paths[1]!))).toBe(0);
  });
});

describe("RingTransfers when the ring does not finish a request", () => {
  /** A ring that accepts every request and completes each with `result`. */
  function fakeRing(result: number): IoRing {
    const tags: number[] = [];
    return {
      capacity: 8,
      get inFlight() {
        return tags.length;
      },
      prepare: (_w: boolean, _f: number, _a: number, _c: number, _o: number, tag: number) =>
        tags.push(tag) > 0,
      waitAll: () => {},
      reap: (each: (tag: number, result: number) => void) => {
        const n = tags.length;
        for (const t of tags.splice(0)) each(t, result);
        return n;
      },
    } as unknown as IoRing;
  }

  /** A 512-byte read of sector 1 as ChainBuffers on fake guest memory; returns the chain and its status address. */
  function readChain() {
    const drv = new FakeDriverQueue(16);
    const { addrs } = drv.addChain([
      { data: requestHeader(VIRTIO_BLK_T_IN, 1) },
      { len: 512, writable: true },
      { len: 1, writable: true },
    ]);
    const queue = drv.activate();
    const chain = new ChainBuffers(drv.mem);
    queue.popInto(chain);
    return { chain, statusAddr: addrs[2]!, mem: drv.mem };
  }

  function transfers(ring: IoRing, readIovecs: () => number, warnings: string[]) {
    const disk = {
      fd: -1,
      canTransferIovecs: () => true,
      readIovecs,
      writeIovecs: readIovecs,
    } as unknown as IovecDisk;
    const decode = (
      chain: ChainBuffers,
      t: { write: boolean; sector: number; length: number; statusAddr: number },
      iov: IovecList,
    ) => {
      Object.assign(t, { write: false, sector: 1, length: 512, statusAddr: chain.addr[2]! });
      iov.clear();
      return iov.push(chain.host[1]!, 512);
    };
    return new RingTransfers(ring, disk, decode, { warn: (_r, m) => warnings.push(m) });
  }

  test("a request that failed on the ring and succeeds again synchronously completes with OK", () => {
    const warnings: string[] = [];
    const t = transfers(fakeRing(-5), () => 512, warnings);
    const { chain, statusAddr, mem } = readChain();
    const done: [number, number][] = [];

    const started = t.start(chain);
    t.complete((head, len) => done.push([head, len]));

    expect(started).toBe(true);
    expect(done).toEqual([[0, 513]]);
    expect(mem.readU8(statusAddr)).toBe(VIRTIO_BLK_S_OK);
    expect(warnings).toEqual([]);
  });

  test("a request that comes back short twice completes with IOERR, a used length of 1 and one warning", () => {
    const warnings: string[] = [];
    const t = transfers(fakeRing(100), () => 100, warnings);
    const { chain, statusAddr, mem } = readChain();
    const done: [number, number][] = [];

    t.start(chain);
    t.complete((head, len) => done.push([head, len]));

    expect(done).toEqual([[0, 1]]);
    expect(mem.readU8(statusAddr)).toBe(VIRTIO_BLK_S_IOERR);
    expect(warnings).toEqual(["read at sector 1: 100 of 512 bytes"]);
  });
});
