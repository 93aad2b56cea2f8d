// ChainBuffers: the allocation-free form of a descriptor chain (Queue.popInto, processQueueBuffers) must read
// exactly what the DescriptorChain form (Queue.pop) reads, refuse the same chains, and carry host addresses.
import { describe, expect, test } from "bun:test";
import { ChainBuffers } from "../../../src/devices/virtio/descriptor_chain.ts";
import { processQueueBuffers } from "../../../src/devices/virtio/process_queue.ts";
import { DESC_BASE, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";

const quiet = { warn: () => {} };

function driver(size = 16) {
  const d = new FakeDriverQueue(size);
  d.activate();
  return d;
}

describe("Queue.popInto", () => {
  test("reads each buffer's guest address, length and direction in chain order", () => {
    const d = driver();
    const { addrs } = d.addChain([{ len: 16 }, { len: 512, writable: true }, { len: 1, writable: true }]);
    const b = new ChainBuffers(d.mem);

    const popped = d.queue.popInto(b);

    expect(popped).toBe(true);
    expect([b.count, b.error]).toEqual([3, undefined]);
    expect([...b.addr.subarray(0, 3)]).toEqual(addrs);
    expect([...b.len.subarray(0, 3)]).toEqual([16, 512, 1]);
    expect([...b.writable.subarray(0, 3)]).toEqual([0, 1, 1]);
  });

  test("gives each buffer the host address of its guest bytes", () => {
    const d = driver();
    const { addrs } = d.addChain([{ len: 8, writable: true }]);
    const b = new ChainBuffers(d.mem);

    d.queue.popInto(b);

    expect(b.host[0]).toBe(d.mem.hostAddress(addrs[0]!, 8));
  });

  test("returns false when the driver made nothing available", () => {
    const d = driver();

    expect(d.queue.popInto(new ChainBuffers(d.mem))).toBe(false);
  });

  test("reads an indirect table like the same buffers given directly", () => {
    const d = driver();
    const spec = [{ len: 16 }, { len: 4096, writable: true }, { len: 1, writable: true }];
    d.addIndirectChain(spec);
    const b = new ChainBuffers(d.mem);

    d.queue.popInto(b);

    expect([b.count, [...b.len.subarray(0, 3)], [...b.writable.subarray(0, 3)]]).toEqual([
      3,
      [16, 4096, 1],
      [0, 1, 1],
    ]);
  });

  test("grows for a chain longer than its starting room (an indirect table of 300 buffers)", () => {
    const d = new FakeDriverQueue(16, undefined, 4 << 20);
    d.activate();
    d.addIndirectChain(Array.from({ length: 300 }, (_, i) => ({ len: 512 + i, writable: true })));
    const b = new ChainBuffers(d.mem);

    d.queue.popInto(b);

    expect([b.count, b.error, b.len[0], b.len[299]]).toEqual([300, undefined, 512, 811]);
  });

  test("refuses the same chain as pop, with the same reason", () => {
    const a = driver();
    const b = driver();
    for (const d of [a, b]) {
      d.writeDescriptor(DESC_BASE, 0, { addr: 1n << 60n, len: 4, flags: 0, next: 0 });
      d.publish(0);
    }
    const buffers = new ChainBuffers(b.mem);

    const chain = a.queue.pop()!;
    b.queue.popInto(buffers);

    expect(buffers.error).toBeDefined();
    expect(buffers.error).toBe(chain.error!);
  });

  test("toChain gives the DescriptorChain that pop gives", () => {
    const a = driver();
    const b = driver();
    const spec = [{ len: 16 }, { len: 100, writable: true }];
    a.addChain(spec);
    b.addChain(spec);
    const buffers = new ChainBuffers(b.mem);
    b.queue.popInto(buffers);

    const chain = buffers.toChain();

    const popped = a.queue.pop()!;
    expect([chain.head, chain.descriptors, chain.error]).toEqual([
      popped.head,
      popped.descriptors,
      undefined,
    ]);
  });
});

describe("processQueueBuffers", () => {
  test("uses every available chain with its handler's length, then interrupts once", () => {
    const d = driver();
    d.addChain([{ len: 4, writable: true }]);
    d.addChain([{ len: 8, writable: true }]);
    const irq = new FakeInterrupt();
    const b = new ChainBuffers(d.mem);

    const used = processQueueBuffers(d.queue, irq, b, (c) => c.len[0]!, quiet);

    expect([used, d.usedElem(0).len, d.usedElem(1).len, irq.usedQueueVectors.length]).toEqual([2, 4, 8, 1]);
  });

  test("returns a refused chain with length 0 without calling the handler", () => {
    const d = driver();
    d.writeDescriptor(DESC_BASE, 0, { addr: 1n << 60n, len: 4, flags: 0, next: 0 });
    d.publish(0);
    let calls = 0;

    processQueueBuffers(d.queue, new FakeInterrupt(), new ChainBuffers(d.mem), () => ++calls, quiet);

    expect([calls, d.usedIdx(), d.usedElem(0)]).toEqual([0, 1, { id: 0, len: 0 }]);
  });
});
