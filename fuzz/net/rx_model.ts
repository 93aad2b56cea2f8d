// What the receive path must do with the chains it popped and the frames it read from the TAP (virtio 1.2
// 5.1.6.3-5.1.6.4, with the choices rx.ts documents): a frame goes into a chain's device-writable buffers in order,
// each filled before the next; a chain the queue refused, or one with a device-readable buffer, is used with
// nothing written; with VIRTIO_NET_F_MRG_RXBUF a frame spreads over up to a queue's worth of chains, without it
// one chain must hold it; num_buffers in the header the guest reads counts the chains; a frame that fits no chain
// is dropped (its chains used with 0 bytes); a frame that runs out of chains waits in the ones it has for the
// next notification; runts are dropped; at most MAX_RX_FRAMES_PER_BATCH frames go per notification.
import { ETH_HLEN, HDR_NUM_BUFFERS, NET_HDR_SIZE } from "../../src/devices/virtio/net/constants.ts";
import { MAX_RX_FRAMES_PER_BATCH } from "../../src/devices/virtio/net/rx.ts";
import type { Range } from "../ranges.ts";
import type { SeenChain, UsedEntry } from "../queue_recorder.ts";

/** A guest buffer range the device fills with the frame's bytes from `offset` on. */
export interface Piece extends Range {
  readonly offset: number;
}

/** A frame placed in full: where it went (this notification and earlier ones) and what the guest must read. */
export interface Delivered {
  readonly pieces: readonly Piece[];
  readonly bytes: Uint8Array;
  readonly chains: number;
}

export interface RxOutcome {
  /** Ranges written during the notification, in order. */
  readonly pieces: Piece[];
  readonly delivered: Delivered[];
  readonly used: UsedEntry[];
  /** Frames dropped (runts and frames that fit no chain). */
  dropped: number;
  /** Of those, frames that filled a queue's worth of chains (VIRTIO_NET_F_MRG_RXBUF) and still did not fit. */
  droppedPastQueue: number;
  /** The device ran out of chains with a frame to place. */
  waiting: boolean;
  problem: string | undefined;
}

export class RxModel {
  /** The frame being placed, how much of it is, where, and the chains holding it. */
  #frame: Uint8Array | undefined;
  #placed = 0;
  #pieces: Piece[] = [];
  #held: UsedEntry[] = [];

  constructor(
    readonly mergeable: boolean,
    readonly queueSize: number,
  ) {}

  /** Where the frame waiting for chains went so far. */
  get waitingPieces(): readonly Piece[] {
    return this.#pieces;
  }

  /**
   * One notification: the device popped `chains` and read `frames`, in order; `tapHasMore` when the TAP still
   * holds frames.
   */
  notify(chains: readonly SeenChain[], frames: readonly Uint8Array[], tapHasMore: boolean): RxOutcome {
    const out: RxOutcome = {
      pieces: [],
      delivered: [],
      used: [],
      dropped: 0,
      droppedPastQueue: 0,
      waiting: false,
      problem: undefined,
    };
    let c = 0;
    let f = 0;
    const next = () => (c < chains.length ? chains[c++] : undefined);
    while (out.delivered.length < MAX_RX_FRAMES_PER_BATCH) {
      if (this.#frame === undefined) {
        const frame = frames[f++];
        if (frame === undefined) {
          if (tapHasMore) out.problem = "the device stopped reading the TAP while it had frames";
          break;
        }
        if (frame.length < NET_HDR_SIZE + ETH_HLEN) {
          out.dropped++;
          continue;
        }
        this.#frame = frame;
      }
      if (!this.#place(next, out)) {
        out.waiting = true;
        break;
      }
    }
    if (c < chains.length)
      out.problem ??= `the device popped ${chains.length - c} chains it had no frame for`;
    if (f < frames.length) out.problem ??= `the device read ${frames.length - f} frames it did not handle`;
    return out;
  }

  /** Places the current frame, or drops it (true), or runs out of chains (false). */
  #place(next: () => SeenChain | undefined, out: RxOutcome): boolean {
    const frame = this.#frame!;
    while (this.#placed < frame.length || this.#held.length === 0) {
      const chain = next();
      if (chain === undefined) return false;
      if (chain.error !== undefined || chain.buffers.some((b) => !b.writable)) {
        out.used.push({ head: chain.head, len: 0 });
        continue;
      }
      const start = this.#placed;
      for (const b of chain.buffers) {
        const len = Math.min(b.len, frame.length - this.#placed);
        if (len === 0) continue;
        const piece = { addr: b.addr, len, offset: this.#placed };
        this.#pieces.push(piece);
        out.pieces.push(piece);
        this.#placed += len;
      }
      this.#held.push({ head: chain.head, len: this.#placed - start });
      const noMoreChains = !this.mergeable || this.#held.length >= this.queueSize;
      if (this.#placed < frame.length && noMoreChains) {
        out.used.push(...this.#held.map((h) => ({ head: h.head, len: 0 })));
        out.dropped++;
        if (this.mergeable) out.droppedPastQueue++;
        this.#finish();
        return true;
      }
    }
    const bytes = frame.slice();
    new DataView(bytes.buffer).setUint16(HDR_NUM_BUFFERS, this.#held.length, true);
    out.delivered.push({ pieces: this.#pieces, bytes, chains: this.#held.length });
    out.used.push(...this.#held);
    this.#finish();
    return true;
  }

  #finish(): void {
    this.#frame = undefined;
    this.#placed = 0;
    this.#pieces = [];
    this.#held = [];
  }
}
