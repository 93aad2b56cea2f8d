// A recording vhost-vsock fd and the three vsock queues in one fake guest memory, for the vhost core and
// virtio-vsock tests.
import { close, EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../../../ffi/libc.ts";
import type { VhostMemoryRegion } from "../../../../ffi/vhost.ts";
import { VIRTIO_MSI_NO_VECTOR } from "../../../../src/devices/virtio/constants.ts";
import { Queue } from "../../../../src/devices/virtio/split_queue.ts";
import { ALL_RING_FEATURES, FakeDriverQueue } from "../../../../src/devices/virtio/testing.ts";
import type { VhostVsockIoctls } from "../../../../src/devices/virtio/vsock/device.ts";
import { GuestMemory } from "../../../../src/vm_memory/guest_memory.ts";

export type Call = [string, ...unknown[]];

/** Records every ioctl in order; `failOn` makes the named one throw as the kernel would refuse it. */
export class RecordingVhost implements VhostVsockIoctls {
  readonly calls: Call[] = [];
  failOn: string | undefined;

  #record(...call: Call): void {
    this.calls.push(call);
    if (call[0] === this.failOn) throw new Error(`${call[0]} on /dev/vhost-vsock failed: EFAULT`);
  }

  setFeatures(features: bigint): void {
    this.#record("setFeatures", features);
  }
  setMemTable(regions: readonly VhostMemoryRegion[]): void {
    this.#record("setMemTable", regions);
  }
  setVringNum(index: number, num: number): void {
    this.#record("setVringNum", index, num);
  }
  setVringAddr(index: number, rings: { desc: number; avail: number; used: number }): void {
    this.#record("setVringAddr", index, rings);
  }
  setVringBase(index: number, base: number): void {
    this.#record("setVringBase", index, base);
  }
  setVringKick(index: number, fd: number): void {
    this.#record("setVringKick", index, fd);
  }
  setVringCall(index: number, fd: number): void {
    this.#record("setVringCall", index, fd);
  }
  setVringErr(index: number, fd: number): void {
    this.#record("setVringErr", index, fd);
  }
  vsockSetRunning(running: boolean): void {
    this.#record("vsockSetRunning", running);
  }

  names(): string[] {
    return this.calls.map((c) => c[0]);
  }
}

/** Queue eventfds and irqfds as plain numbers the fake kernel only records. */
export const EVENTS = { queueEvents: [40, 41, 42], irqfds: [50, 51, 52, 53] };
export const ERROR_FD = 60;

/** Two RAM regions, so the memory table has more than one entry. */
export function twoRegionMemory(): GuestMemory {
  return GuestMemory.anonymous([
    { guestAddr: 0, size: 1 << 20 },
    { guestAddr: 0x1_0000_0000, size: 1 << 16 },
  ]);
}

/** A ready queue of `size` with its rings at `base` (desc), base+0x1000 (avail), base+0x2000 (used). */
export function queueAt(mem: GuestMemory, base: number, vector: number, size = 64): Queue {
  const q = new Queue(256);
  q.setSize(size);
  q.descTable = base;
  q.availRing = base + 0x1000;
  q.usedRing = base + 0x2000;
  q.vector = vector;
  q.ready = true;
  const bad = q.activate(mem, ALL_RING_FEATURES);
  if (bad) throw new Error(bad);
  return q;
}

/** rx and tx at 0x80000 and 0xa0000 (vectors 0 and 1) and the event queue as a fake driver's queue (vector 2). */
export function vsockQueues(): { mem: GuestMemory; event: FakeDriverQueue; queues: Map<number, Queue> } {
  const event = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, twoRegionMemory());
  const mem = event.mem;
  const ev = event.activate();
  ev.vector = 2;
  return {
    mem,
    event,
    queues: new Map([
      [0, queueAt(mem, 0x80000, 0)],
      [1, queueAt(mem, 0xa0000, 1)],
      [2, ev],
    ]),
  };
}

export { VIRTIO_MSI_NO_VECTOR };

const relays: number[] = [];

/** The call relays the vhost core under test makes (its EventFdMaker): real eventfds, closed by closeRelays. */
export function makeRelay(): number {
  const fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  relays.push(fd);
  return fd;
}

/** Closes every relay makeRelay made (afterEach). */
export function closeRelays(): void {
  for (const fd of relays.splice(0)) close(fd);
}
