import { describe, expect, test } from "bun:test";
import {
  CONSOLE_OUTPUT_CHUNK,
  CONSOLE_TRANSMITQ,
  VirtioConsole,
} from "../../../src/devices/virtio/console.ts";
import { MAX_RANDOM_PER_CHAIN, RANDOM_CHUNK, VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import { addAliasedIndirectChain } from "./aliased_chain.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("virtio-rng fills a huge chain in fixed chunks", () => {
  test("a 64 MiB chain of one aliased 128 KiB buffer gets at most MAX_RANDOM_PER_CHAIN bytes, in chunks", () => {
    const asked: number[] = [];
    const rng = new VirtioRng((b) => {
      asked.push(b.length);
      b.fill(7);
    });
    const drv = new FakeDriverQueue();
    rng.activate(drv.mem, new FakeInterrupt(), new Map([[0, drv.activate()]]));
    const buf = drv.alloc(128 * KiB);
    addAliasedIndirectChain(drv, [{ addr: buf, len: 128 * KiB, writable: true, times: 512 }]);

    rng.queueNotify(0);

    expect(drv.usedElem(0).len).toBe(MAX_RANDOM_PER_CHAIN);
    expect(Math.max(...asked)).toBe(RANDOM_CHUNK);
    expect(asked.reduce((a, n) => a + n, 0)).toBe(MAX_RANDOM_PER_CHAIN);
  });
});

describe("virtio-console copies guest output in fixed chunks", () => {
  test("a 64 MiB transmit chain reaches the output in pieces of at most CONSOLE_OUTPUT_CHUNK bytes", () => {
    const pieces: number[] = [];
    const dev = new VirtioConsole({ write: (b) => pieces.push(b.length) });
    const tx = new FakeDriverQueue();
    dev.activate(tx.mem, new FakeInterrupt(), new Map([[CONSOLE_TRANSMITQ, tx.activate()]]));
    const buf = tx.alloc(128 * KiB);
    addAliasedIndirectChain(tx, [{ addr: buf, len: 128 * KiB, times: 512 }]);

    dev.queueNotify(CONSOLE_TRANSMITQ);

    expect(Math.max(...pieces)).toBe(CONSOLE_OUTPUT_CHUNK);
    expect(pieces.reduce((a, n) => a + n, 0)).toBe(64 * MiB);
  });
});
