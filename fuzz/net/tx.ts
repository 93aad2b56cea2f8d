// The net target's transmit part: chains holding a virtio_net_hdr and a frame from 0 bytes to past 64 KiB, as one
// buffer, as header and frame, or with the frame cut in pieces. The header is mostly what Linux sends (no
// offload, a partial checksum, TCP segmentation over IPv4 or IPv6) for the frame's length, then given bad fields
// (every gso_type, ECN, gso_size 0 or huge, a checksum or hdr_len past the frame) and mutated. Checked besides the
// chain fuzzer's checks: the device writes no guest memory but the used ring, a good chain reaches the TAP as one
// write of exactly the guest's bytes, a refused or dropped chain not at all, and the device's verdict on each
// frame is the one tx_rules.ts gives.
import {
  ETH_HLEN,
  MAX_FRAME_BYTES,
  NET_HDR_SIZE,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP,
  VLAN_HLEN,
} from "../../src/devices/virtio/net/constants.ts";
import { type HeaderFields, netPacket } from "../../src/devices/virtio/net/testing.ts";
import { DATA_BASE } from "../../src/devices/virtio/testing.ts";
import { bytesFinding, hex } from "../bytes.ts";
import { SLOT_SIZE } from "../chain_fuzzer.ts";
import { sameUsed } from "../queue_recorder.ts";
import { mutate, type Rng, tally } from "../random.ts";
import { NetDriver, type NetPart, USED_RING } from "./driver.ts";
import { CSUM_FIELD_BYTES, expectedOnTap, txRuleBroken } from "./tx_rules.ts";

const IPV4_HLEN = 20;
const IPV6_HLEN = 40;
const TCP_HLEN = 20;
/** Where TCP's and UDP's checksum fields lie in their headers. */
const TCP_CSUM_OFFSET = 16;
const UDP_CSUM_OFFSET = 6;

/** A frame length: mostly up to the MTU's limit; runts, around that limit, up to 64 KiB, around it and past it. */
function frameLength(rng: Rng, mtu: number): number {
  const unsegmentedMax = mtu + ETH_HLEN + VLAN_HLEN;
  const segmentedMax = MAX_FRAME_BYTES - NET_HDR_SIZE;
  switch (rng.int(12)) {
    case 0:
      return rng.int(ETH_HLEN + 2);
    case 1:
    case 2:
      return unsegmentedMax - 1 + rng.int(3);
    case 3:
      return segmentedMax - 1 + rng.int(3);
    case 4:
      return segmentedMax + rng.int(SLOT_SIZE);
    case 5:
    case 6:
      return rng.int(segmentedMax);
    default:
      return ETH_HLEN + rng.int(unsegmentedMax - ETH_HLEN);
  }
}

/** A header for a `frameLen`-byte frame: mostly a plausible one (segmented when over the MTU), some fields bad. */
function header(rng: Rng, frameLen: number, mtu: number): HeaderFields {
  const v6 = rng.chance(0.4);
  const l4 = ETH_HLEN + (v6 ? IPV6_HLEN : IPV4_HLEN);
  const tcp = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  const large = frameLen > mtu + ETH_HLEN + VLAN_HLEN;
  let gsoType = rng.chance(large ? 0.8 : 0.2) ? tcp : VIRTIO_NET_HDR_GSO_NONE;
  if (rng.chance(0.1)) gsoType = rng.pick([VIRTIO_NET_HDR_GSO_UDP, rng.int(256)]);
  if (rng.chance(0.1)) gsoType |= VIRTIO_NET_HDR_GSO_ECN;
  const segmented = (gsoType & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE;
  let flags = segmented || rng.chance(0.4) ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
  if (rng.chance(0.05)) flags |= rng.pick([VIRTIO_NET_HDR_F_DATA_VALID, rng.int(256)]);
  const anyU16 = () => rng.pick([0, 1, frameLen - 1, frameLen, frameLen + 1, 0xffff, rng.int(0x10000)]);
  const csumOffset = rng.chance(0.9) ? rng.pick([TCP_CSUM_OFFSET, UDP_CSUM_OFFSET]) : anyU16();
  // The checksum field ending one byte before the frame's end, at it, or one byte past it.
  const csumAtEnd = frameLen - CSUM_FIELD_BYTES - csumOffset - 1 + rng.int(3);
  return {
    flags,
    gsoType,
    hdrLen: rng.chance(0.9) ? l4 + TCP_HLEN : anyU16(),
    gsoSize: segmented && rng.chance(0.9) ? mtu - (l4 - ETH_HLEN) - TCP_HLEN : anyU16(),
    csumStart: rng.chance(0.85) ? l4 : rng.pick([ETH_HLEN - 1, csumAtEnd, csumAtEnd, anyU16()]),
    csumOffset,
    numBuffers: rng.chance(0.8) ? 0 : anyU16(),
  };
}

/** Checks one transmitted chain; a finding, or undefined. */
function checkTransmit(d: NetDriver, stats: Record<string, number>): string | undefined {
  const { popped, used } = d.take();
  const written = d.taps[d.queue >> 1]!.written.splice(0);
  if (popped.length !== 1) return `the transmit queue popped ${popped.length} chains for one notification`;
  const chain = popped[0]!;
  if (!sameUsed(used, [{ head: chain.head, len: 0 }]))
    return `used ${JSON.stringify(used)} for transmit chain ${chain.head} (expected it once, 0 bytes written)`;
  const stray = d.watch.strayWrite([USED_RING]);
  if (stray >= 0) return `transmit wrote guest memory at ${hex(stray)}`;
  if (written.length > 1) return `one chain became ${written.length} TAP writes`;
  if (chain.error !== undefined) {
    tally(stats, "refusedChains");
    return written.length === 0 ? undefined : "a refused chain reached the TAP";
  }
  // One byte past the largest frame is enough to show the device must drop it.
  const packet = chain.readable.subarray(0, MAX_FRAME_BYTES + 1);
  const broken = txRuleBroken(packet, d.features, d.net.mtu);
  const sent = written[0];
  if (d.grown("txFrames") !== written.length || d.grown("txDropped") !== 1 - written.length)
    return `counters grew by ${d.grown("txFrames")} sent, ${d.grown("txDropped")} dropped for ${written.length} writes`;
  if (sent === undefined) {
    tally(stats, "dropped");
    return broken === undefined ? `a well-formed ${packet.length}-byte packet was dropped` : undefined;
  }
  const unlike = bytesFinding("the TAP got other bytes than the guest's", sent, expectedOnTap(packet));
  if (unlike !== undefined) return unlike;
  if (broken !== undefined) return `a packet with ${broken} reached the TAP`;
  tally(stats, "sent");
  if (packet.length > NET_HDR_SIZE + ETH_HLEN + VLAN_HLEN + d.net.mtu) tally(stats, "sentSegmented");
  return undefined;
}

/** The transmit part (pair 0's transmit queue, or another pair's). */
export function txPart(): NetPart {
  /** The frame of the chain being built, for its descriptors' lengths. */
  const plan = { frameLen: 0, left: 0 };
  return {
    expectedFailures: [],
    shape: {
      interestingLengths: [
        0,
        1,
        NET_HDR_SIZE - 1,
        NET_HDR_SIZE,
        NET_HDR_SIZE + ETH_HLEN,
        MAX_FRAME_BYTES + 1,
      ],
      dataSectors: 32,
      maxIndirect: 8,
      maxDirect: 5,
      writableChance: 0,
      plausiblyWritable: (rng) => rng.chance(0.02),
      // The whole packet in one buffer, or the header and then the frame in pieces.
      plausibleLength: (rng, i, n, anyLength) => {
        if (n === 1) return NET_HDR_SIZE + plan.frameLen;
        if (i === 0) return rng.chance(0.9) ? NET_HDR_SIZE : anyLength();
        const piece = i === n - 1 ? plan.left : rng.int(plan.left + 1);
        plan.left -= piece;
        return piece;
      },
    },
    newDevice: (rng) => new NetDriver(rng, (pairs) => 2 * rng.int(pairs) + 1),
    prepare: (rng, d) => {
      plan.frameLen = plan.left = frameLength(rng, d.net.mtu);
      const packet = netPacket(header(rng, plan.frameLen, d.net.mtu), plan.frameLen);
      if (rng.chance(0.2)) mutate(rng, packet, 1 + rng.int(3), 0, NET_HDR_SIZE);
      d.drv.mem.write(DATA_BASE, packet);
    },
    check: (d, _queue, stats) => checkTransmit(d, stats),
  };
}
