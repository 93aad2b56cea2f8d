// Feeds random descriptor tables and rings into the queue code. Seeded, so a failure names the iteration that
// reproduces it. No exception may escape Queue/readDescriptorChain/Reader/Writer/processQueue.
import { expect, test } from "bun:test";
import { Reader, Writer } from "../../../src/devices/virtio/descriptor_utils.ts";
import { processQueue } from "../../../src/devices/virtio/process_queue.ts";
import { Queue } from "../../../src/devices/virtio/split_queue.ts";
import { FakeInterrupt, mulberry32 } from "../../../src/devices/virtio/testing.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";

const ITERATIONS = 100_000;
const SEED = 0x5eed_0004;
const MEM_SIZE = 0x10000;

test(`${ITERATIONS} random rings never throw out of the queue code`, () => {
  const rand = mulberry32(SEED);
  const int = (n: number) => Math.floor(rand() * n);
  // Two regions with a hole between them, so straddling and out-of-RAM addresses both occur.
  const mem = GuestMemory.anonymous([
    { guestAddr: 0, size: MEM_SIZE },
    { guestAddr: MEM_SIZE + 0x1000, size: 0x1000 },
  ]);
  const ram = mem.regions[0]!.bytes;
  const view = new DataView(ram.buffer);
  const irq = new FakeInterrupt();
  let refusedChains = 0;
  let goodChains = 0;
  const failures: string[] = [];

  // Addresses that are mostly plausible, sometimes hostile.
  const addr = (): bigint => {
    switch (int(8)) {
      case 0:
        return BigInt(int(2 ** 32)) * 0x10000n + BigInt(int(2 ** 16)); // anywhere in 48 bits
      case 1:
        return BigInt(MEM_SIZE - int(64)); // near the end of RAM
      case 2:
        return BigInt(MEM_SIZE + 0x1000 + int(0x1000)); // second region
      default:
        return BigInt(0x4000 + int(MEM_SIZE - 0x4000));
    }
  };

  for (let it = 0; it < ITERATIONS; it++) {
    const size = 1 << int(7); // 1..64
    const q = new Queue(64);
    q.setSize(rand() < 0.05 ? int(100) : size);
    q.descTable = rand() < 0.05 ? int(MEM_SIZE * 2) : 0x0000;
    q.availRing = rand() < 0.05 ? int(MEM_SIZE * 2) : 0x1000;
    q.usedRing = rand() < 0.05 ? int(MEM_SIZE * 2) : 0x2000;
    // Random descriptor table (in RAM at 0, and an area used for indirect tables at 0x3000).
    for (let i = 0; i < 64 + 64; i++) {
      const at = i < 64 ? i * 16 : 0x3000 + (i - 64) * 16;
      view.setBigUint64(at, rand() < 0.5 ? BigInt(0x3000 + int(64) * 16) : addr(), true);
      view.setUint32(at + 8, rand() < 0.8 ? int(256) : int(2 ** 32), true);
      view.setUint16(at + 12, int(8), true);
      view.setUint16(at + 14, rand() < 0.8 ? int(size) : int(0x10000), true);
    }
    view.setUint16(0x1000, int(2), true); // avail flags
    view.setUint16(0x1002, rand() < 0.9 ? int(size + 1) : int(0x10000), true); // avail idx
    for (let i = 0; i < 64; i++)
      view.setUint16(0x1004 + 2 * i, rand() < 0.9 ? int(size) : int(0x10000), true);
    view.setUint16(0x1004 + 2 * size, int(0x10000), true); // used_event

    try {
      if (q.activate(mem, BigInt(int(2 ** 30)) << 2n) !== undefined) continue;
      processQueue(
        q,
        irq,
        (chain) => {
          goodChains++;
          const r = Reader.of(chain);
          r.readExact(Math.min(r.available, int(300)));
          const w = Writer.of(chain);
          const tail = w.splitAt(int(w.available + 2));
          w.write(new Uint8Array(int(300)));
          if (tail.available > 0) tail.writeU8(0);
          return w.bytesWritten;
        },
        {
          // Refused chains are expected; anything else logged means an exception was caught inside.
          warn: (reason: string, m: string) =>
            reason === "refused chain" ? refusedChains++ : failures.push(`iteration ${it}: ${m}`),
        },
      );
    } catch (e) {
      failures.push(`iteration ${it} (seed ${SEED}): ${(e as Error).stack}`);
      if (failures.length > 3) break;
    }
  }

  expect(failures).toEqual([]);
  // The generator must exercise both paths, or the fuzz proves little.
  expect(goodChains).toBeGreaterThan(1000);
  expect(refusedChains).toBeGreaterThan(1000);
}, 60_000);
