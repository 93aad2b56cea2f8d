// A split virtqueue (virtio 1.2 section 2.7) as the device sees it. The transport fills in the guest-chosen
// size and ring addresses (setters never fail: bad values leave the queue invalid); `activate` checks the rings
// against guest memory, after which the device pops descriptor chains, returns them with `addUsed`, and asks
// `needsNotification` whether the driver wants an interrupt (2.7.10, with or without VIRTIO_RING_F_EVENT_IDX).
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ELEM_SIZE,
  featureBit,
} from "./constants.ts";
import {
  type ChainBuffers,
  type ChainLimits,
  type DescriptorChain,
  readChainInto,
  readDescriptorChain,
} from "./descriptor_chain.ts";
import type { QueueTrace } from "./queue_trace.ts";

/** Byte sizes of the three areas (2.7 "Split Virtqueues": the table at 2.7.5, driver area 2.7.6, device 2.7.8). */
export const descTableSize = (size: number) => VIRTQ_DESC_SIZE * size;
/** flags, idx, ring[size], used_event. */
export const availRingSize = (size: number) => 6 + 2 * size;
/** flags, idx, ring[size] of virtq_used_elem, avail_event. */
export const usedRingSize = (size: number) => 6 + VIRTQ_USED_ELEM_SIZE * size;

/** Alignments the driver MUST respect (2.7 table "Virtqueue Part Alignment"). */
export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

// x86 may satisfy a load before an earlier store becomes visible. Where the device stores an index and then
// loads the driver's (avail_event -> avail idx, used idx -> used_event), a full barrier is needed, as vhost's
// smp_mb(). A sequentially consistent Atomics operation is one (a locked instruction on x86).
const fenceWord = new Int32Array(new SharedArrayBuffer(4));
const fullFence = () => Atomics.add(fenceWord, 0, 0);

export class Queue {
  /** Size the driver chose (defaults to the maximum, 4.1.4.3: "queue_size ... on reset the maximum"). */
  size: number;
  /** queue_enable as written by the driver. */
  ready = false;
  descTable = 0;
  availRing = 0;
  usedRing = 0;
  /** MSI-X vector for used-buffer notifications, or VIRTIO_MSI_NO_VECTOR. */
  vector = VIRTIO_MSI_NO_VECTOR;

  #mem: GuestMemory | undefined;
  #indirect = false;
  #eventIdx = false;
  #nextAvail = 0;
  #nextUsed = 0;
  /** used idx at the last interrupt decision with EVENT_IDX; undefined until the first one. */
  #signalledUsed: number | undefined;
  #fault: string | undefined;
  /** Set when processing stopped at the batch limit with chains left (process_queue.ts); taken by the serve loop. */
  #batchLimited = false;
  /** --trace-file only (queue_trace.ts): told of every pop and used element; undefined costs one branch each. */
  #trace: QueueTrace | undefined;
  /** What readDescriptorChain checks against, kept to spare an object per pop. */
  #limits: ChainLimits = { queueSize: 0, indirect: false };

  constructor(readonly maxSize: number) {
    if (!isPowerOfTwo(maxSize) || maxSize > VIRTQ_MAX_SIZE)
      throw new Error(`virtqueue maximum size ${maxSize} is not a power of two up to ${VIRTQ_MAX_SIZE}`);
    this.size = maxSize;
  }

  /** Sets queue_size; values that are not a power of two up to the maximum are ignored (2.7: "Queue Size"). */
  setSize(size: number): boolean {
    if (!isPowerOfTwo(size) || size > this.maxSize) return false;
    this.size = size;
    return true;
  }

  /** Why the rings cannot be used, or undefined when they lie in guest RAM with the required alignment. */
  validate(mem: GuestMemory): string | undefined {
    if (!isPowerOfTwo(this.size) || this.size > this.maxSize) return `queue size ${this.size} is not valid`;
    const parts: [string, number, number, number][] = [
      ["descriptor table", this.descTable, descTableSize(this.size), DESC_ALIGN],
      ["available ring", this.availRing, availRingSize(this.size), AVAIL_ALIGN],
      ["used ring", this.usedRing, usedRingSize(this.size), USED_ALIGN],
    ];
    for (const [name, addr, len, align] of parts) {
      if (addr % align !== 0) return `${name} at 0x${addr.toString(16)} is not ${align}-byte aligned`;
      if (!mem.isValidRange(addr, len))
        return `${name} 0x${addr.toString(16)}+0x${len.toString(16)} lies outside guest RAM`;
    }
    return undefined;
  }

  /** Starts using the rings in `mem` with the negotiated features; returns an error text if they are invalid. */
  activate(mem: GuestMemory, features: bigint): string | undefined {
    const bad = this.validate(mem);
    if (bad) return bad;
    this.#mem = mem;
    this.#indirect = (features & featureBit(VIRTIO_F_INDIRECT_DESC)) !== 0n;
    this.#eventIdx = (features & featureBit(VIRTIO_RING_F_EVENT_IDX)) !== 0n;
    this.#nextAvail = 0;
    this.#nextUsed = 0;
    this.#signalledUsed = undefined;
    this.#fault = undefined;
    return undefined;
  }

  /** Back to the reset state of 4.1.4.3 (size = maximum, not ready, no vector, no addresses). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descTable = 0;
    this.availRing = 0;
    this.usedRing = 0;
    this.vector = VIRTIO_MSI_NO_VECTOR;
    this.#mem = undefined;
    this.#nextAvail = 0;
    this.#nextUsed = 0;
    this.#signalledUsed = undefined;
    this.#fault = undefined;
  }

  get isActive(): boolean {
    return this.#mem !== undefined;
  }

  /** Set when the driver broke the queue as a whole (e.g. avail idx too far ahead); the queue then stops. */
  get fault(): string | undefined {
    return this.#fault;
  }

  get nextAvail(): number {
    return this.#nextAvail;
  }

  get nextUsed(): number {
    return this.#nextUsed;
  }

  /** Processing stopped after a full batch (process_queue.ts, MAX_CHAINS_PER_BATCH); more may be waiting. */
  markBatchLimited(): void {
    this.#batchLimited = true;
  }

  /** Whether the last processing stopped at the batch limit, without clearing the mark. */
  get batchLimited(): boolean {
    return this.#batchLimited;
  }

  /** Set at activation when the VMM traces (host.ts); each pop and used element is then reported to it. */
  traceWith(trace: QueueTrace | undefined): void {
    this.#trace = trace;
  }

  get trace(): QueueTrace | undefined {
    return this.#trace;
  }

  /** Whether the last processing stopped at the batch limit; clears the mark. */
  takeBatchLimited(): boolean {
    const limited = this.#batchLimited;
    this.#batchLimited = false;
    return limited;
  }

  /** The available ring's idx, or undefined when the queue is not active. */
  #availIdx(mem: GuestMemory): number {
    return mem.readU16(this.availRing + 2);
  }

  /** Number of chains the driver made available that the device has not popped yet. */
  pending(): number {
    const mem = this.#mem;
    if (!mem || this.#fault) return 0;
    if (this.#eventIdx) fullFence();
    const ahead = (this.#availIdx(mem) - this.#nextAvail) & 0xffff;
    if (ahead > this.size) {
      // 2.7.13.3 (driver side): idx only ever runs ahead by the number of buffers added, at most Queue Size.
      this.#fault = `available ring idx is ${ahead} entries ahead of the device (queue size ${this.size})`;
      return 0;
    }
    return ahead;
  }

  /**
   * Takes the next available chain, or undefined when there is none (or the queue is faulted). A chain that
   * breaks a rule comes back with `error` set; it must still be returned with `addUsed(chain.head, 0)`.
   */
  pop(): DescriptorChain | undefined {
    const head = this.#takeHead();
    if (head < 0) return undefined;
    const chain = readDescriptorChain(this.#mem!, this.descTable, head, this.#limits);
    return this.#faultOnLostHead(head, chain.error) ? undefined : chain;
  }

  /**
   * Like `pop`, into reusable typed arrays (no object per buffer; `out.mem` must be this queue's memory): false
   * when nothing is available. A refused chain comes back with `out.error` set and must still be returned.
   */
  popInto(out: ChainBuffers): boolean {
    const head = this.#takeHead();
    if (head < 0) return false;
    readChainInto(this.descTable, head, this.#limits, out);
    return !this.#faultOnLostHead(head, out.error);
  }

  /** Takes the next available head index (advancing avail_event with EVENT_IDX), or -1 when there is none. */
  #takeHead(): number {
    const mem = this.#mem;
    if (!mem || this.pending() === 0) return -1;
    const slot = this.#nextAvail % this.size;
    const head = mem.readU16(this.availRing + 4 + 2 * slot);
    this.#nextAvail = (this.#nextAvail + 1) & 0xffff;
    // 2.7.10: with EVENT_IDX the device tells the driver which avail idx should next cause a notification.
    if (this.#eventIdx) mem.writeU16(this.usedRing + 4 + VIRTQ_USED_ELEM_SIZE * this.size, this.#nextAvail);
    if (this.#limits.queueSize !== this.size || this.#limits.indirect !== this.#indirect)
      this.#limits = { queueSize: this.size, indirect: this.#indirect };
    if (this.#trace !== undefined) this.#trace.popped(head);
    return head;
  }

  /** A bad head cannot even be returned to the driver: the queue cannot continue (true when faulted). */
  #faultOnLostHead(head: number, error: string | undefined): boolean {
    if (!error || head < this.size) return false;
    this.#fault = error;
    return true;
  }

  /** Puts `head` into the used ring with `len` bytes written, then publishes the new used idx (2.7.8). */
  addUsed(head: number, len: number): void {
    const mem = this.#mem;
    if (!mem) return;
    const slot = this.#nextUsed % this.size;
    const elem = this.usedRing + 4 + VIRTQ_USED_ELEM_SIZE * slot;
    mem.writeU32(elem, head);
    mem.writeU32(elem + 4, len >>> 0);
    this.#nextUsed = (this.#nextUsed + 1) & 0xffff;
    // x86 keeps stores in order, so the element is visible before the idx that publishes it.
    mem.writeU16(this.usedRing + 2, this.#nextUsed);
    if (this.#trace !== undefined) this.#trace.used(head);
  }

  /**
   * Whether the driver wants a used-buffer notification now (2.7.10). Without EVENT_IDX the driver's
   * VIRTQ_AVAIL_F_NO_INTERRUPT flag decides; with it, vring_need_event(used_event, new, old) over the used
   * entries added since the last decision.
   */
  needsNotification(): boolean {
    const mem = this.#mem;
    if (!mem) return false;
    fullFence();
    if (!this.#eventIdx) return (mem.readU16(this.availRing) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const usedEvent = mem.readU16(this.availRing + 4 + 2 * this.size);
    const now = this.#nextUsed;
    const old = this.#signalledUsed;
    this.#signalledUsed = now;
    if (old === undefined) return true;
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  /** Plain state for snapshots and for rebuilding the queue in a device process. */
  snapshot(): QueueState {
    return {
      maxSize: this.maxSize,
      size: this.size,
      ready: this.ready,
      descTable: this.descTable,
      availRing: this.availRing,
      usedRing: this.usedRing,
      vector: this.vector,
      nextAvail: this.#nextAvail,
      nextUsed: this.#nextUsed,
    };
  }

  /** Rebuilds an active queue from `state`; returns an error text when the state does not fit. */
  static restore(state: QueueState, mem: GuestMemory, features: bigint): Queue | string {
    let q: Queue;
    try {
      q = new Queue(state.maxSize);
    } catch (e) {
      return (e as Error).message;
    }
    if (!q.setSize(state.size)) return `queue size ${state.size} is not valid for maximum ${state.maxSize}`;
    q.ready = state.ready;
    q.descTable = state.descTable;
    q.availRing = state.availRing;
    q.usedRing = state.usedRing;
    q.vector = state.vector;
    const bad = q.activate(mem, features);
    if (bad) return bad;
    q.#nextAvail = state.nextAvail & 0xffff;
    q.#nextUsed = state.nextUsed & 0xffff;
    return q;
  }
}

export interface QueueState {
  readonly maxSize: number;
  readonly size: number;
  readonly ready: boolean;
  readonly descTable: number;
  readonly availRing: number;
  readonly usedRing: number;
  readonly vector: number;
  readonly nextAvail: number;
  readonly nextUsed: number;
}
