import { describe, expect, test } from "bun:test";
import {
  VIRTIO_F_VERSION_1,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  featureBit,
} from "../../../src/devices/virtio/constants.ts";
import { Reader, Writer } from "../../../src/devices/virtio/descriptor_utils.ts";
import { processQueue } from "../../../src/devices/virtio/process_queue.ts";
import { Queue } from "../../../src/devices/virtio/split_queue.ts";
import {
  AVAIL_BASE,
  DESC_BASE,
  FakeDriverQueue,
  FakeInterrupt,
  USED_BASE,
} from "../../../src/devices/virtio/testing.ts";
import { BufferRegion, GuestMemory, type MemoryRegion } from "../../../src/vm_memory/guest_memory.ts";

const quiet = { warn: () => {} };
const bytes = (...b: number[]) => Uint8Array.from(b);

describe("queue setup", () => {
  test("activate accepts rings inside guest RAM with the required alignment", () => {
    const d = new FakeDriverQueue();
    expect(d.queue.activate(d.mem, d.features)).toBeUndefined();
  });

  test("activate refuses a used ring outside guest RAM", () => {
    const d = new FakeDriverQueue(16, undefined, 0x10000);
    d.queue.usedRing = 0xfff0;
    expect(d.queue.activate(d.mem, d.features)).toContain("used ring");
  });

  test("activate refuses a misaligned descriptor table (2.7: descriptor table alignment 16)", () => {
    const d = new FakeDriverQueue();
    d.queue.descTable = DESC_BASE + 8;
    expect(d.queue.activate(d.mem, d.features)).toContain("not 16-byte aligned");
  });

  test("setSize ignores a size that is not a power of two", () => {
    const q = new Queue(256);
    expect(q.setSize(100)).toBe(false);
    expect(q.size).toBe(256);
  });

  test("setSize ignores a size above the maximum", () => {
    const q = new Queue(64);
    expect(q.setSize(128)).toBe(false);
  });
});

describe("popping chains", () => {
  test("pop returns nothing when the driver made nothing available", () => {
    const d = new FakeDriverQueue();
    d.activate();
    expect(d.queue.pop()).toBeUndefined();
  });

  test("a chain's readable and writable buffers come back in order", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addChain([{ data: bytes(1, 2, 3) }, { len: 8, writable: true }]);
    const chain = d.queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.readable.map((x) => x.len)).toEqual([3]);
    expect(chain.writable.map((x) => x.len)).toEqual([8]);
  });

  test("a Reader reads across several readable buffers", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addChain([{ data: bytes(1, 2) }, { data: bytes(3, 4, 5) }]);
    const r = Reader.of(d.queue.pop()!);
    expect(r.readExact(5)).toEqual(bytes(1, 2, 3, 4, 5));
  });

  test("a Writer writes across several writable buffers", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const { addrs } = d.addChain([
      { len: 2, writable: true },
      { len: 2, writable: true },
    ]);
    const w = Writer.of(d.queue.pop()!);
    w.writeAll(bytes(9, 8, 7, 6));
    expect(d.mem.read(addrs[0]!, 2)).toEqual(bytes(9, 8));
    expect(d.mem.read(addrs[1]!, 2)).toEqual(bytes(7, 6));
  });

  test("Writer.splitAt leaves the tail for a status byte", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const { addrs } = d.addChain([{ len: 5, writable: true }]);
    const w = Writer.of(d.queue.pop()!);
    const status = w.splitAt(4);
    expect(w.available).toBe(4);
    status.writeU8(0xaa);
    expect(d.mem.readU8(addrs[0]! + 4)).toBe(0xaa);
  });

  test("an indirect table's buffers are read like direct ones", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addIndirectChain([{ data: bytes(7) }, { len: 4, writable: true }]);
    const chain = d.queue.pop()!;
    expect(chain.error).toBeUndefined();
    expect(chain.descriptors.length).toBe(2);
  });

  test("addUsed publishes the id and length in the used ring", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const { head } = d.addChain([{ len: 4, writable: true }]);
    d.queue.addUsed(d.queue.pop()!.head, 4);
    expect(d.usedIdx()).toBe(1);
    expect(d.usedElem(0)).toEqual({ id: head, len: 4 });
  });

  test("snapshot and restore keep the ring positions", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addChain([{ len: 1 }]);
    d.queue.addUsed(d.queue.pop()!.head, 0);
    const q = Queue.restore(d.queue.snapshot(), d.mem, d.features);
    expect(q).toBeInstanceOf(Queue);
    expect((q as Queue).nextAvail).toBe(1);
    expect((q as Queue).nextUsed).toBe(1);
  });
});

describe("guest mistakes are refused, never thrown", () => {
  test("a buffer outside guest RAM is refused (2.7.5: addr is a guest physical address the device may access)", () => {
    const d = new FakeDriverQueue(16, undefined, 0x20000);
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, { addr: 0x1ff00, len: 0x1000, flags: 0, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("outside guest RAM");
  });

  test("a 64-bit address beyond 2^53 is refused", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, { addr: 0xffff_ffff_ffff_0000n, len: 16, flags: 0, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("outside guest RAM");
  });

  test("a looping chain is refused (2.7.5.2: a chain MUST NOT be longer than the Queue Size)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const buf = d.alloc(4);
    d.writeDescriptor(DESC_BASE, 0, { addr: buf, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    d.writeDescriptor(DESC_BASE, 1, { addr: buf, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("loops");
  });

  test("a next index beyond the queue size is refused (2.7.5: next indexes the descriptor table)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, { addr: d.alloc(4), len: 4, flags: VIRTQ_DESC_F_NEXT, next: 16 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("next index 16");
  });

  test("a readable buffer after a writable one is refused (2.7.4.2: writable elements MUST come after readable ones)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, {
      addr: d.alloc(4),
      len: 4,
      flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
      next: 1,
    });
    d.writeDescriptor(DESC_BASE, 1, { addr: d.alloc(4), len: 4, flags: 0, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("device-readable descriptor follows");
  });

  test("a chain over 2^32 bytes is refused (2.7.5.2: total length MUST NOT exceed 2^32)", () => {
    const big = 0x8000_0000;
    const small = new BufferRegion(0, new Uint8Array(0x100000));
    // Lengths are checked against RAM first, so use a memory whose region claims 4 GiB without backing it (its
    // bytes are never viewed: the chain is refused on its lengths alone).
    const huge: MemoryRegion = {
      guestAddr: 0x1_0000_0000,
      size: 0x1_0000_0000,
      fdOffset: 0,
      hostAddr: 0x7000_0000_0000,
      view: () => {
        throw new Error("the 4 GiB region has no bytes");
      },
    };
    const d = new FakeDriverQueue(16, undefined, 0, new GuestMemory([small, huge]));
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, { addr: 0x1_0000_0000, len: big, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    d.writeDescriptor(DESC_BASE, 1, { addr: 0x1_0000_0000, len: big, flags: VIRTQ_DESC_F_NEXT, next: 2 });
    d.writeDescriptor(DESC_BASE, 2, { addr: 0x1_0000_0000, len: 16, flags: 0, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("2^32");
  });

  test("an indirect descriptor without VIRTIO_F_INDIRECT_DESC is refused (2.7.5.3.1)", () => {
    const d = new FakeDriverQueue(16, featureBit(VIRTIO_F_VERSION_1));
    d.activate();
    d.addIndirectChain([{ len: 4 }]);
    expect(d.queue.pop()!.error).toContain("without VIRTIO_F_INDIRECT_DESC");
  });

  test("a nested indirect table is refused (2.7.5.3.1: MUST NOT set INDIRECT inside an indirect table)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const inner = d.alloc(16);
    const outer = d.alloc(16);
    d.writeDescriptor(outer, 0, { addr: inner, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
    d.writeDescriptor(DESC_BASE, 0, { addr: outer, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("nested indirect");
  });

  test("INDIRECT together with NEXT is refused (2.7.5.3.1: MUST NOT set both)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const t = d.alloc(16);
    d.writeDescriptor(DESC_BASE, 0, {
      addr: t,
      len: 16,
      flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
      next: 1,
    });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("both INDIRECT and NEXT");
  });

  test("an indirect table length that is not a multiple of 16 is refused (2.7.5.3: len is a table of virtq_desc)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.writeDescriptor(DESC_BASE, 0, { addr: d.alloc(24), len: 24, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
    d.publish(0);
    expect(d.queue.pop()!.error).toContain("multiple of 16");
  });

  test("avail idx more than the queue size ahead faults the queue (2.7.6: idx runs at most Queue Size ahead)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.setAvailIdx(17);
    expect(d.queue.pop()).toBeUndefined();
    expect(d.queue.fault).toContain("ahead");
  });

  test("a head index beyond the queue size faults the queue (2.7.6: ring entries are descriptor table indexes)", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.publish(99);
    expect(d.queue.pop()).toBeUndefined();
    expect(d.queue.fault).toContain("head descriptor 99");
  });

  test("a refused chain is returned to the driver with length 0", () => {
    const d = new FakeDriverQueue(16, undefined, 0x20000);
    d.activate();
    d.writeDescriptor(DESC_BASE, 3, { addr: 0x1ff00, len: 0x1000, flags: 0, next: 0 });
    d.publish(3);
    processQueue(d.queue, new FakeInterrupt(), () => 99, quiet);
    expect(d.usedElem(0)).toEqual({ id: 3, len: 0 });
  });

  test("a faulted queue asks the transport for DEVICE_NEEDS_RESET", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.setAvailIdx(40);
    const irq = new FakeInterrupt();
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.needsReset.length).toBe(1);
  });

  test("a handler that throws fails only its own request", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addChain([{ len: 1 }]);
    d.addChain([{ len: 1 }]);
    let calls = 0;
    const used = processQueue(
      d.queue,
      new FakeInterrupt(),
      () => {
        if (calls++ === 0) throw new Error("boom");
        return 1;
      },
      quiet,
    );
    expect(used).toBe(2);
    expect(d.usedElem(1).len).toBe(1);
  });
});

describe("notification suppression (2.7.10)", () => {
  const noEventIdx = featureBit(VIRTIO_F_VERSION_1);

  test("without EVENT_IDX the device interrupts after using buffers", () => {
    const d = new FakeDriverQueue(16, noEventIdx);
    d.activate();
    d.addChain([{ len: 1 }]);
    const irq = new FakeInterrupt();
    d.queue.vector = 3;
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.usedQueueVectors).toEqual([3]);
  });

  test("without EVENT_IDX VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt", () => {
    const d = new FakeDriverQueue(16, noEventIdx);
    d.activate();
    d.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    d.addChain([{ len: 1 }]);
    const irq = new FakeInterrupt();
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.usedQueueVectors).toEqual([]);
  });

  test("one batch of several chains raises one interrupt", () => {
    const d = new FakeDriverQueue(16, noEventIdx);
    d.activate();
    for (let i = 0; i < 5; i++) d.addChain([{ len: 1 }]);
    const irq = new FakeInterrupt();
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.usedQueueVectors.length).toBe(1);
  });

  test("with EVENT_IDX the device interrupts when used idx passes used_event", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const irq = new FakeInterrupt();
    d.addChain([{ len: 1 }]);
    processQueue(d.queue, irq, () => 0, quiet); // first decision always notifies
    d.setUsedEvent(1); // driver: "interrupt me when entry 1 is used"
    d.addChain([{ len: 1 }]);
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.usedQueueVectors.length).toBe(2);
  });

  test("with EVENT_IDX no interrupt is sent before used idx reaches used_event", () => {
    const d = new FakeDriverQueue();
    d.activate();
    const irq = new FakeInterrupt();
    d.addChain([{ len: 1 }]);
    processQueue(d.queue, irq, () => 0, quiet);
    d.setUsedEvent(5);
    d.addChain([{ len: 1 }]);
    processQueue(d.queue, irq, () => 0, quiet);
    expect(irq.usedQueueVectors.length).toBe(1);
  });

  test("with EVENT_IDX the device publishes avail_event after popping", () => {
    const d = new FakeDriverQueue();
    d.activate();
    d.addChain([{ len: 1 }]);
    d.addChain([{ len: 1 }]);
    d.queue.pop();
    d.queue.pop();
    expect(d.availEvent()).toBe(2);
  });

  test("EVENT_IDX comparison wraps at 2^16", () => {
    const d = new FakeDriverQueue(4);
    d.activate();
    const q = Queue.restore(
      { ...d.queue.snapshot(), nextAvail: 0xfffe, nextUsed: 0xfffe },
      d.mem,
      d.features,
    );
    if (!(q instanceof Queue)) throw new Error(q);
    d.writeDescriptor(DESC_BASE, 0, { addr: d.alloc(4), len: 4, flags: 0, next: 0 });
    const irq = new FakeInterrupt();
    d.setAvailIdx(0xffff); // one chain at avail position 0xfffe (slot 2, head 0 already zero)
    processQueue(q, irq, () => 0, quiet); // used idx 0xfffe -> 0xffff, first decision notifies
    d.setUsedEvent(0xffff); // driver: "interrupt me once entry 0xffff is used"
    d.setAvailIdx(0); // next chain at position 0xffff (slot 3)
    processQueue(q, irq, () => 0, quiet); // used idx 0xffff -> 0x0000
    expect(d.usedIdx()).toBe(0);
    expect(irq.usedQueueVectors.length).toBe(2);
  });
});
