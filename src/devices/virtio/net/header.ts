// The offload header in front of every frame (struct virtio_net_hdr_v1, virtio 1.2 section 5.1.6), as the guest
// writes it on transmit: checked against the negotiated features and the frame's length before the frame goes to
// the TAP (the host kernel checks it again, but a malformed frame is the device's to drop and count). And the
// mapping from the guest's receive offloads to the TAP's TUNSETOFFLOAD flags.
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN } from "../../../../ffi/tun.ts";
import { featureBit } from "../constants.ts";
import {
  DEFAULT_MTU,
  ETH_HLEN,
  HDR_CSUM_OFFSET,
  HDR_CSUM_START,
  HDR_FLAGS,
  HDR_GSO_SIZE,
  HDR_GSO_TYPE,
  HDR_HDR_LEN,
  MAX_FRAME_BYTES,
  NET_HDR_SIZE,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VLAN_HLEN,
} from "./constants.ts";

export interface NetHeader {
  readonly flags: number;
  readonly gsoType: number;
  readonly hdrLen: number;
  readonly gsoSize: number;
  readonly csumStart: number;
  readonly csumOffset: number;
}

export function readNetHeader(bytes: Uint8Array): NetHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, NET_HDR_SIZE);
  return {
    flags: v.getUint8(HDR_FLAGS),
    gsoType: v.getUint8(HDR_GSO_TYPE),
    hdrLen: v.getUint16(HDR_HDR_LEN, true),
    gsoSize: v.getUint16(HDR_GSO_SIZE, true),
    csumStart: v.getUint16(HDR_CSUM_START, true),
    csumOffset: v.getUint16(HDR_CSUM_OFFSET, true),
  };
}

const has = (features: bigint, bit: number) => (features & featureBit(bit)) !== 0n;

/**
 * Why the transmitted frame `packet` (header then Ethernet frame, `packet.length` bytes in all) must be dropped,
 * or undefined when it may go to the TAP. `features` are the negotiated ones.
 */
export function txFrameProblem(packet: Uint8Array, features: bigint, mtu = DEFAULT_MTU): string | undefined {
  if (packet.length < NET_HDR_SIZE + ETH_HLEN)
    return `frame of ${packet.length} bytes is shorter than the ${NET_HDR_SIZE}-byte header and an Ethernet header`;
  if (packet.length > MAX_FRAME_BYTES)
    return `frame of ${packet.length} bytes is longer than ${MAX_FRAME_BYTES} bytes`;
  const frameLen = packet.length - NET_HDR_SIZE;
  const h = readNetHeader(packet);
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    if (!has(features, VIRTIO_NET_F_CSUM)) return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
    if (h.csumStart + h.csumOffset + 2 > frameLen)
      return `checksum at ${h.csumStart}+${h.csumOffset} lies past the ${frameLen}-byte frame`;
  }
  const ecn = (h.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
  const gso = h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  if (gso === VIRTIO_NET_HDR_GSO_NONE) {
    if (ecn) return "GSO_ECN without a GSO type";
    if (frameLen > ETH_HLEN + VLAN_HLEN + mtu)
      return `frame of ${frameLen} bytes without segmentation is over the MTU of ${mtu}`;
    return undefined;
  }
  if (gso === VIRTIO_NET_HDR_GSO_TCPV4) {
    if (!has(features, VIRTIO_NET_F_HOST_TSO4)) return "GSO_TCPV4 without VIRTIO_NET_F_HOST_TSO4";
  } else if (gso === VIRTIO_NET_HDR_GSO_TCPV6) {
    if (!has(features, VIRTIO_NET_F_HOST_TSO6)) return "GSO_TCPV6 without VIRTIO_NET_F_HOST_TSO6";
  } else return `GSO type ${h.gsoType} is not offered`;
  if (ecn && !has(features, VIRTIO_NET_F_HOST_ECN)) return "GSO_ECN without VIRTIO_NET_F_HOST_ECN";
  if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) return "a segmented frame without NEEDS_CSUM";
  if (h.gsoSize === 0) return "a segmented frame with gso_size 0";
  if (h.hdrLen > frameLen) return `hdr_len ${h.hdrLen} is past the ${frameLen}-byte frame`;
  if (h.csumStart < ETH_HLEN) return `csum_start ${h.csumStart} lies inside the Ethernet header`;
  return undefined;
}

/**
 * Clears the header flags of the transmitted `packet` (the device's copy) that mean nothing on transmit: "The device
 * MUST ignore flag bits that it does not recognize" (virtio 1.2 section 5.1.6.2.2), so the frame goes out as if the
 * driver had not set them (DATA_VALID and RSC_INFO are receive flags), and the TAP's kernel never reads them.
 */
export function clearUnknownTxFlags(packet: Uint8Array): void {
  packet[HDR_FLAGS]! &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
}

/** The TUNSETOFFLOAD flags for the receive offloads in `offloads` (negotiated or set through the control queue). */
export function tapOffloadFlags(offloads: bigint): number {
  let flags = 0;
  if (has(offloads, VIRTIO_NET_F_GUEST_CSUM)) {
    flags |= TUN_F_CSUM;
    // The TAP hands out GSO frames only to a reader that also takes partial checksums.
    if (has(offloads, VIRTIO_NET_F_GUEST_TSO4)) flags |= TUN_F_TSO4;
    if (has(offloads, VIRTIO_NET_F_GUEST_TSO6)) flags |= TUN_F_TSO6;
    if (flags & (TUN_F_TSO4 | TUN_F_TSO6) && has(offloads, VIRTIO_NET_F_GUEST_ECN)) flags |= TUN_F_TSO_ECN;
  }
  return flags;
}

/** The receive-offload feature bits a driver may set through VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET (5.1.6.5.6.1). */
export const GUEST_OFFLOAD_FEATURES =
  featureBit(VIRTIO_NET_F_GUEST_CSUM) |
  featureBit(VIRTIO_NET_F_GUEST_TSO4) |
  featureBit(VIRTIO_NET_F_GUEST_TSO6) |
  featureBit(VIRTIO_NET_F_GUEST_ECN);
