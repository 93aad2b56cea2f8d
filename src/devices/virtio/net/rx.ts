// Receive on one queue pair: frames read from the TAP queue go into the guest's receive buffers. A frame waits
// (it is kept, and the TAP is not read further) while the guest has no buffers for it; the guest's next
// notification of the receive queue resumes it, so nothing is dropped for want of buffers. With
// VIRTIO_NET_F_MRG_RXBUF a frame spreads over as many chains as it needs (num_buffers in its header, 5.1.6.4);
// without it one chain must hold it. What cannot be delivered (a frame longer than the buffers a guest can offer,
// a frame shorter than a header) is dropped and counted.
import type { GuestLog } from "../../../base/guest_log.ts";
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import { ChainBuffers } from "../descriptor_chain.ts";
import type { Interrupt } from "../interrupt.ts";
import type { Queue } from "../split_queue.ts";
import { ETH_HLEN, HDR_NUM_BUFFERS, MAX_FRAME_BYTES, NET_HDR_SIZE } from "./constants.ts";
import type { TapQueue } from "./tap_queue.ts";

/** Most frames delivered per call: the device process answers its control socket between batches. */
export const MAX_RX_FRAMES_PER_BATCH = 64;

export interface NetCounters {
  rxFrames: number;
  /** Frames read from the TAP that could not be delivered (too long for the guest's buffers, runts). */
  rxDropped: number;
  txFrames: number;
  /** Frames the guest sent that were malformed or that the TAP refused. */
  txDropped: number;
}

export function newCounters(): NetCounters {
  return { rxFrames: 0, rxDropped: 0, txFrames: 0, txDropped: 0 };
}

export class RxPath {
  readonly #buf = new Uint8Array(MAX_FRAME_BYTES);
  /** Bytes of the frame in #buf still to deliver (0: none). */
  #frameLen = 0;
  /** Bytes of that frame already copied into the chains in #heads. */
  #placed = 0;
  readonly #heads: number[] = [];
  readonly #lens: number[] = [];
  /** Guest addresses of num_buffers' two bytes in the frame's first chain (-1 before it is reached). */
  #numBuffersLo = -1;
  #numBuffersHi = -1;
  /** Out of guest buffers: the TAP is not read until the guest notifies the receive queue. */
  #waiting = false;
  #chain: ChainBuffers | undefined;
  /** The TAP queue failed (its interface was deleted): it is not polled again. */
  #broken = false;

  constructor(
    readonly tap: TapQueue,
    readonly counters: NetCounters,
    readonly log: GuestLog,
  ) {}

  /** Out of guest buffers: the serve loop does not poll the TAP for this pair. */
  get waitingForBuffers(): boolean {
    return this.#waiting;
  }

  get broken(): boolean {
    return this.#broken;
  }

  /** Forgets the queue's chains (device reset); a frame not yet placed is kept for the next activation. */
  reset(): void {
    this.#placed = 0;
    this.#heads.length = 0;
    this.#lens.length = 0;
    this.#numBuffersLo = this.#numBuffersHi = -1;
    this.#waiting = false;
    this.#chain = undefined;
  }

  /** The guest added receive buffers. */
  buffersAdded(): void {
    this.#waiting = false;
  }

  /**
   * Delivers the waiting frame and then frames from the TAP, up to MAX_RX_FRAMES_PER_BATCH; interrupts the guest
   * once if it wants to be told. Returns the number delivered.
   */
  deliver(mem: GuestMemory, queue: Queue, interrupt: Interrupt, mergeable: boolean): number {
    if (this.#chain === undefined || this.#chain.mem !== mem) this.#chain = new ChainBuffers(mem);
    let delivered = 0;
    let used = false;
    try {
      while (delivered < MAX_RX_FRAMES_PER_BATCH && !this.#waiting) {
        if (this.#frameLen === 0) {
          let n: number;
          try {
            n = this.tap.read(this.#buf);
          } catch (e) {
            this.#broken = true;
            throw e;
          }
          if (n === 0) break;
          if (n < NET_HDR_SIZE + ETH_HLEN) {
            this.counters.rxDropped++;
            continue;
          }
          this.#frameLen = n;
        }
        const outcome = this.#place(mem, queue, mergeable);
        if (outcome.usedAny) used = true;
        if (outcome.result === "wait") this.#waiting = true;
        else if (outcome.result === "placed") {
          delivered++;
          this.counters.rxFrames++;
        }
      }
    } catch (e) {
      this.log.warn("rx failed", `receive stopped: ${(e as Error).message}`);
    }
    if (queue.fault) interrupt.signalNeedsReset(queue.fault);
    if (used && queue.needsNotification()) interrupt.signalUsedQueue(queue.vector);
    return delivered;
  }

  /** Copies the pending frame on into chains; "wait" when the queue ran out first. */
  #place(
    mem: GuestMemory,
    queue: Queue,
    mergeable: boolean,
  ): { result: "placed" | "wait" | "dropped"; usedAny: boolean } {
    const chain = this.#chain!;
    let usedAny = false;
    while (this.#placed < this.#frameLen || this.#heads.length === 0) {
      if (!queue.popInto(chain)) return { result: "wait", usedAny };
      if (chain.error !== undefined) {
        this.log.warn("refused chain", `refused receive chain ${chain.head}: ${chain.error}`);
        queue.addUsed(chain.head, 0);
        usedAny = true;
        continue;
      }
      const written = this.#fill(mem, chain);
      if (written < 0) {
        this.log.warn("refused chain", `receive chain ${chain.head} has a device-readable buffer`);
        queue.addUsed(chain.head, 0);
        usedAny = true;
        continue;
      }
      this.#heads.push(chain.head);
      this.#lens.push(written);
      const tooLong = !mergeable || this.#heads.length >= queue.size;
      if (this.#placed < this.#frameLen && tooLong) {
        // One chain must hold the frame without MRG_RXBUF, and a frame spreads over at most a queue's chains.
        this.log.warn(
          "rx dropped",
          `dropped a ${this.#frameLen - NET_HDR_SIZE}-byte frame: the receive buffers hold only ${this.#placed - NET_HDR_SIZE}`,
        );
        for (const head of this.#heads) queue.addUsed(head, 0);
        this.counters.rxDropped++;
        this.#finishFrame();
        return { result: "dropped", usedAny: true };
      }
    }
    const n = this.#heads.length;
    if (this.#numBuffersLo >= 0) mem.writeU8(this.#numBuffersLo, n & 0xff);
    if (this.#numBuffersHi >= 0) mem.writeU8(this.#numBuffersHi, n >> 8);
    for (let i = 0; i < n; i++) queue.addUsed(this.#heads[i]!, this.#lens[i]!);
    this.#finishFrame();
    return { result: "placed", usedAny: true };
  }

  /** Copies what fits of the frame into `chain`'s buffers; -1 for a chain with a device-readable buffer. */
  #fill(mem: GuestMemory, chain: ChainBuffers): number {
    for (let i = 0; i < chain.count; i++) if (chain.writable[i] === 0) return -1;
    let written = 0;
    for (let i = 0; i < chain.count && this.#placed < this.#frameLen; i++) {
      const addr = chain.addr[i]!;
      const n = Math.min(chain.len[i]!, this.#frameLen - this.#placed);
      if (n === 0) continue;
      mem.slice(addr, n).set(this.#buf.subarray(this.#placed, this.#placed + n));
      const lo = HDR_NUM_BUFFERS;
      if (this.#placed <= lo && lo < this.#placed + n) this.#numBuffersLo = addr + (lo - this.#placed);
      if (this.#placed <= lo + 1 && lo + 1 < this.#placed + n)
        this.#numBuffersHi = addr + (lo + 1 - this.#placed);
      this.#placed += n;
      written += n;
    }
    return written;
  }

  #finishFrame(): void {
    this.#frameLen = 0;
    this.#placed = 0;
    this.#heads.length = 0;
    this.#lens.length = 0;
    this.#numBuffersLo = this.#numBuffersHi = -1;
  }
}
