// The net target's receive part: frames wait on the fake TAP (runts, MTU-sized, up to 64 KiB) while the guest
// offers hostile receive chains: device-readable buffers, buffers too short for the header or splitting
// num_buffers, with and without VIRTIO_NET_F_MRG_RXBUF. rx_model.ts says what the device must do with the chains
// it popped and the frames it read; checked against it: the used entries, the counters, every byte the device
// changed in guest memory (only the frame's pieces and the used ring), what the guest reads in each delivered
// frame (num_buffers included, where no later write covers it), and that the device waits only when it has no
// chain left.
import {
  DEFAULT_MTU,
  ETH_HLEN,
  HDR_NUM_BUFFERS,
  MAX_FRAME_BYTES,
  NET_HDR_SIZE,
  VIRTIO_NET_F_MRG_RXBUF,
  VLAN_HLEN,
} from "../../src/devices/virtio/net/constants.ts";
import { netPacket } from "../../src/devices/virtio/net/testing.ts";
import { DATA_BASE } from "../../src/devices/virtio/testing.ts";
import { bytesFinding, hex } from "../bytes.ts";
import { INDIRECT_TABLE, QUEUE_SIZE, SLOT_SIZE, SLOTS } from "../chain_fuzzer.ts";
import { sameUsed } from "../queue_recorder.ts";
import { mutate, type Rng, tally } from "../random.ts";
import { overlaps, type Range } from "../ranges.ts";
import { NetDriver, type NetPart, USED_RING } from "./driver.ts";
import { type Delivered, type Piece, type RxOutcome, RxModel } from "./rx_model.ts";

/** Frames the fake TAP holds at most (the device reads one at a time). */
const MAX_WAITING_FRAMES = 3;
/** Where only the device writes between two notifications: the driver rewrites rings and indirect tables. */
const DEVICE_ONLY: Range = { addr: DATA_BASE, len: INDIRECT_TABLE - DATA_BASE };
/** Receive buffer lengths: Linux's for an MTU-sized frame, a page-ish, a whole slot, one that cuts num_buffers. */
const RX_BUFFER_LENGTHS = [
  NET_HDR_SIZE + ETH_HLEN + VLAN_HLEN + DEFAULT_MTU,
  SLOT_SIZE / 4,
  SLOT_SIZE,
  HDR_NUM_BUFFERS + 1,
];
/** Some drivers give only tiny buffers, so that a large frame needs more chains than the queue holds. */
const TINY_RX_BUFFER_LENGTHS = [HDR_NUM_BUFFERS + 1, NET_HDR_SIZE, SLOT_SIZE / 32];

/** A frame from the TAP: header (with a num_buffers the device must overwrite) and frame, mutated. */
function tapFrame(rng: Rng): Uint8Array {
  let len: number;
  switch (rng.int(5)) {
    case 0:
      // A runt (a TAP gives no empty frame: a read of 0 bytes means none is waiting).
      len = 1 + rng.int(NET_HDR_SIZE + ETH_HLEN);
      break;
    case 1:
      len = MAX_FRAME_BYTES - rng.int(2);
      break;
    case 2:
      len = NET_HDR_SIZE + rng.int(MAX_FRAME_BYTES - NET_HDR_SIZE);
      break;
    default:
      len = NET_HDR_SIZE + ETH_HLEN + rng.int(SLOT_SIZE);
  }
  if (len < NET_HDR_SIZE) return rng.bytes(len);
  const frame = netPacket({ numBuffers: rng.int(0x10000) }, len - NET_HDR_SIZE);
  mutate(rng, frame, 4, NET_HDR_SIZE);
  return frame;
}

/** The two bytes of num_buffers in the guest buffers of a delivered frame. */
function numBuffersRanges(delivered: Delivered): Range[] {
  return delivered.pieces.flatMap((p) =>
    [HDR_NUM_BUFFERS, HDR_NUM_BUFFERS + 1]
      .filter((at) => at >= p.offset && at < p.offset + p.len)
      .map((at) => ({ addr: p.addr + at - p.offset, len: 1 })),
  );
}

/**
 * Pieces of `delivered` whose bytes are still the frame's after the notification: in memory only the device
 * writes, and covered by no later piece of `writes` nor by num_buffers (written last) held in another piece.
 */
function lastingPieces(delivered: Delivered, writes: readonly Piece[]): Piece[] {
  const numBuffers = numBuffersRanges(delivered);
  return delivered.pieces.filter((p) => {
    const at = writes.indexOf(p);
    const inside = p.addr >= DEVICE_ONLY.addr && p.addr + p.len <= DEVICE_ONLY.addr + DEVICE_ONLY.len;
    const holdsNumBuffers = p.offset <= HDR_NUM_BUFFERS && HDR_NUM_BUFFERS < p.offset + p.len;
    return (
      inside &&
      !overlaps(p, USED_RING) &&
      !writes.slice(at + 1).some((later) => overlaps(p, later)) &&
      (holdsNumBuffers || !numBuffers.some((r) => overlaps(p, r)))
    );
  });
}

interface RxState {
  readonly model: RxModel;
  /** The frames on the fake TAP, in the order it gives them. */
  readonly waiting: Uint8Array[];
}

/**
 * Where a frame of `delivered` reads other than it should (num_buffers included) in a piece whose bytes last
 * (`writes`: every piece, in order, since the oldest frame began); undefined when each reads right.
 */
function deliveredUnlike(
  d: NetDriver,
  delivered: readonly Delivered[],
  writes: readonly Piece[],
  stats: Record<string, number>,
): string | undefined {
  for (const frame of delivered) {
    for (const p of lastingPieces(frame, writes)) {
      const want = frame.bytes.subarray(p.offset, p.offset + p.len);
      const where = `the guest reads at ${hex(p.addr)} (frame offset ${p.offset}, ${frame.chains} chains)`;
      const unlike = bytesFinding(`${where} other bytes than the frame's`, d.watch.now(p.addr, p.len), want);
      if (unlike !== undefined) return unlike;
      tally(stats, "piecesChecked");
    }
    tally(stats, frame.chains > 1 ? "deliveredMerged" : "delivered");
    const [lo, hi] = numBuffersRanges(frame);
    if (lo && hi && hi.addr !== lo.addr + 1) tally(stats, "numBuffersSplit");
  }
  return undefined;
}

/** Checks one notification of the receive queue against the model; a finding, or undefined. */
function checkReceive(d: NetDriver, rx: RxState, stats: Record<string, number>): string | undefined {
  const { popped, used } = d.take();
  const tap = d.taps[0]!;
  const read = rx.waiting.splice(0, rx.waiting.length - tap.incoming.length);
  const earlier = [...rx.model.waitingPieces];
  const out: RxOutcome = rx.model.notify(popped, read, tap.incoming.length > 0);
  if (out.problem !== undefined) return out.problem;
  if (!sameUsed(used, out.used)) return `used ${JSON.stringify(used)}, expected ${JSON.stringify(out.used)}`;
  if (d.grown("rxFrames") !== out.delivered.length || d.grown("rxDropped") !== out.dropped)
    return `counters grew by ${d.grown("rxFrames")} received, ${d.grown("rxDropped")} dropped; expected ${out.delivered.length}, ${out.dropped}`;
  const allowed = [USED_RING, ...out.pieces, ...out.delivered.flatMap(numBuffersRanges)];
  const stray = d.watch.strayWrite(allowed);
  if (stray >= 0) return `receive wrote guest memory at ${hex(stray)}, outside the frame's buffers`;
  const unlike = deliveredUnlike(d, out.delivered, [...earlier, ...out.pieces], stats);
  if (unlike !== undefined) return unlike;
  for (const chain of popped)
    if (chain.error === undefined && chain.buffers.some((b) => !b.writable)) tally(stats, "readOnlyChains");
  if (out.dropped > 0) tally(stats, "drops");
  if (out.droppedPastQueue > 0) tally(stats, "droppedPastQueue");
  if (out.waiting) {
    tally(stats, "waits");
    const available = d.availableChains();
    if (available > 0 && d.drv.queue.fault === undefined)
      return `the receive path waits for buffers while ${available} chains are available`;
  }
  return undefined;
}

/** The receive part (pair 0's receive queue). */
export function rxPart(): NetPart {
  let rx: RxState | undefined;
  let slot = 0;
  let lengths = RX_BUFFER_LENGTHS;
  return {
    expectedFailures: [],
    shape: {
      interestingLengths: [0, 1, NET_HDR_SIZE - 1, NET_HDR_SIZE, NET_HDR_SIZE + ETH_HLEN, SLOT_SIZE + 1],
      dataSectors: 8,
      maxIndirect: 4,
      maxDirect: 4,
      writableChance: 0,
      plausiblyWritable: (rng) => !rng.chance(0.03),
      // Each buffer in the next slot, so that a frame's chains seldom overlap and what the guest reads is checked.
      plausibleAddress: () => DATA_BASE + (slot++ % SLOTS) * SLOT_SIZE,
      plausibleLength: (rng, _i, _n, anyLength) => (rng.chance(0.8) ? rng.pick(lengths) : anyLength()),
    },
    newDevice: (rng) => {
      const d = new NetDriver(rng, () => 0);
      lengths = rng.chance(0.2) ? TINY_RX_BUFFER_LENGTHS : RX_BUFFER_LENGTHS;
      rx = { model: new RxModel(d.has(VIRTIO_NET_F_MRG_RXBUF), QUEUE_SIZE), waiting: [] };
      return d;
    },
    prepare: (rng, d, stats) => {
      // Enough frames that chains do not pile up past the ring's size.
      const frames = d.availableChains() >= QUEUE_SIZE / 2 ? 1 : rng.chance(0.6) ? 1 + rng.int(2) : 0;
      for (let i = 0; i < frames && rx!.waiting.length < MAX_WAITING_FRAMES; i++) {
        const frame = tapFrame(rng);
        rx!.waiting.push(frame);
        d.taps[0]!.incoming.push(frame);
      }
      if (d.has(VIRTIO_NET_F_MRG_RXBUF)) tally(stats, "mrgRxbufIterations");
    },
    // The chains it has not popped (it pops only for a frame) and, with VIRTIO_NET_F_MRG_RXBUF, those holding a
    // frame that waits for more: at most a queue's worth less one (a frame that fills a queue's worth is dropped).
    held: (d) => d.availableChains() + (d.has(VIRTIO_NET_F_MRG_RXBUF) ? QUEUE_SIZE - 1 : 0),
    check: (d, _queue, stats) => checkReceive(d, rx!, stats),
  };
}
