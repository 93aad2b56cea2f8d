// Test support shared by every virtio test: a driver-side view that builds descriptor tables, available rings
// and chains in fake guest memory (GuestMemory.anonymous), and an Interrupt that records what it was asked to do.
// Tests only; no device code imports this.
import { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  featureBit,
} from "./constants.ts";
import type { Interrupt } from "./interrupt.ts";
import { Queue } from "./split_queue.ts";

export class FakeInterrupt implements Interrupt {
  readonly usedQueueVectors: number[] = [];
  configChanges = 0;
  readonly needsReset: string[] = [];
  signalUsedQueue(vector: number): void {
    this.usedQueueVectors.push(vector);
  }
  signalConfigChanged(): void {
    this.configChanges++;
  }
  signalNeedsReset(reason: string): void {
    this.needsReset.push(reason);
  }
  readonly deviceEvents: Uint8Array[] = [];
  signalDeviceEvent(payload: Uint8Array): void {
    this.deviceEvents.push(payload.slice());
  }
}

export interface BufferSpec {
  /** Bytes the driver puts in a device-readable buffer. */
  readonly data?: Uint8Array;
  /** Length of the buffer (defaults to data.length). */
  readonly len?: number;
  readonly writable?: boolean;
}

export interface RawDescriptor {
  addr: number | bigint;
  len: number;
  flags: number;
  next: number;
}

export const ALL_RING_FEATURES =
  featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_F_INDIRECT_DESC);

/** Guest memory layout used by the driver: rings low, buffers from DATA_BASE up. */
export const DESC_BASE = 0x1000;
export const AVAIL_BASE = 0x8000;
export const USED_BASE = 0x9000;
export const DATA_BASE = 0x10000;

/** Where a queue's three rings are in guest memory. */
export interface RingAddresses {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
}

export const DEFAULT_RINGS: RingAddresses = { desc: DESC_BASE, avail: AVAIL_BASE, used: USED_BASE };

export class FakeDriverQueue {
  readonly mem: GuestMemory;
  readonly queue: Queue;
  #nextDesc = 0;
  #nextData = DATA_BASE;
  #availIdx = 0;

  constructor(
    readonly size = 16,
    readonly features = ALL_RING_FEATURES,
    memSize = 1 << 20,
    mem?: GuestMemory,
    /** Other places than the defaults let several queues share one memory. */
    readonly rings = DEFAULT_RINGS,
  ) {
    this.mem = mem ?? GuestMemory.anonymous([{ guestAddr: 0, size: memSize }]);
    this.queue = new Queue(size);
    this.queue.descTable = rings.desc;
    this.queue.availRing = rings.avail;
    this.queue.usedRing = rings.used;
    this.queue.ready = true;
  }

  /** Activates the device side; throws if the rings are refused (tests expect them to be valid). */
  activate(): Queue {
    const bad = this.queue.activate(this.mem, this.features);
    if (bad) throw new Error(bad);
    return this.queue;
  }

  /** Reserves `len` bytes of buffer space (8-byte aligned) and returns its guest address. */
  alloc(len: number): number {
    const addr = this.#nextData;
    this.#nextData += Math.max(8, Math.ceil(len / 8) * 8);
    return addr;
  }

  writeDescriptor(table: number, index: number, d: RawDescriptor): void {
    const at = table + index * VIRTQ_DESC_SIZE;
    this.mem.writeU64(at, BigInt(d.addr));
    this.mem.writeU32(at + 8, d.len);
    this.mem.writeU16(at + 12, d.flags);
    this.mem.writeU16(at + 14, d.next);
  }

  /** Publishes `head` in the available ring and bumps its idx. */
  publish(head: number): void {
    this.mem.writeU16(this.rings.avail + 4 + 2 * (this.#availIdx % this.size), head);
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    this.mem.writeU16(this.rings.avail + 2, this.#availIdx);
  }

  /** Overwrites the available ring's idx (to test a driver that runs too far ahead). */
  setAvailIdx(idx: number): void {
    this.#availIdx = idx & 0xffff;
    this.mem.writeU16(this.rings.avail + 2, this.#availIdx);
  }

  setAvailFlags(flags: number): void {
    this.mem.writeU16(this.rings.avail, flags);
  }

  /** used_event, written by the driver after the available ring (2.7.6). */
  setUsedEvent(value: number): void {
    this.mem.writeU16(this.rings.avail + 4 + 2 * this.size, value);
  }

  /** avail_event, written by the device after the used ring (2.7.8). */
  availEvent(): number {
    return this.mem.readU16(this.rings.used + 4 + 8 * this.size);
  }

  #buffer(b: BufferSpec): { addr: number; len: number } {
    const len = b.len ?? b.data?.length ?? 0;
    const addr = this.alloc(len);
    if (b.data) this.mem.write(addr, b.data);
    return { addr, len };
  }

  /**
   * Writes `buffers` (already in guest memory) as one chain of descriptors `first`, `first + 1`, ... of `table`,
   * each but the last with NEXT; indices wrap at `wrap` (the ring size for the descriptor table itself).
   */
  writeLinkedDescriptors(
    table: number,
    first: number,
    buffers: readonly { addr: number; len: number; writable?: boolean }[],
    wrap = Infinity,
  ): void {
    buffers.forEach((b, i) => {
      const last = i === buffers.length - 1;
      const index = (first + i) % wrap;
      this.writeDescriptor(table, index, {
        addr: b.addr,
        len: b.len,
        flags: (b.writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT),
        next: last ? 0 : (index + 1) % wrap,
      });
    });
  }

  /** Allocates and fills `buffers` in guest memory; their addresses and lengths, with each one's direction. */
  #place(buffers: readonly BufferSpec[]): { addr: number; len: number; writable?: boolean }[] {
    return buffers.map((b) => ({ ...this.#buffer(b), writable: b.writable }));
  }

  /** Builds a chain of direct descriptors, publishes it and returns its head index and buffer addresses. */
  addChain(buffers: readonly BufferSpec[]): { head: number; addrs: number[] } {
    const head = this.#nextDesc;
    const placed = this.#place(buffers);
    this.writeLinkedDescriptors(this.rings.desc, head, placed, this.size);
    this.#nextDesc = (head + buffers.length) % this.size;
    this.publish(head);
    return { head, addrs: placed.map((b) => b.addr) };
  }

  /** Builds one descriptor pointing at an indirect table holding `buffers`, and publishes it. */
  addIndirectChain(buffers: readonly BufferSpec[]): { head: number; addrs: number[] } {
    const table = this.alloc(buffers.length * VIRTQ_DESC_SIZE);
    const placed = this.#place(buffers);
    this.writeLinkedDescriptors(table, 0, placed);
    const addrs = placed.map((b) => b.addr);
    const head = this.#nextDesc;
    this.writeDescriptor(this.rings.desc, head, {
      addr: table,
      len: buffers.length * VIRTQ_DESC_SIZE,
      flags: VIRTQ_DESC_F_INDIRECT,
      next: 0,
    });
    this.#nextDesc = (head + 1) % this.size;
    this.publish(head);
    return { head, addrs };
  }

  usedIdx(): number {
    return this.mem.readU16(this.rings.used + 2);
  }

  /** The used ring element at position `i` (modulo the size). */
  usedElem(i: number): { id: number; len: number } {
    const at = this.rings.used + 4 + 8 * (i % this.size);
    return { id: this.mem.readU32(at), len: this.mem.readU32(at + 4) };
  }
}

/** A small deterministic PRNG (mulberry32) so randomized tests reproduce from their seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
