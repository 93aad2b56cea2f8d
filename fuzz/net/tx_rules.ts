// What a transmitted frame must satisfy before the device may hand it to the host's TAP: the driver's duties of
// virtio 1.2 section 5.1.6.2.1 on the header and the length, which a device facing a hostile driver enforces.
// Written as a table, apart from header.ts, so the fuzz target can hold the device's verdict against it.
import { featureBit } from "../../src/devices/virtio/constants.ts";
import {
  ETH_HLEN,
  HDR_FLAGS,
  MAX_FRAME_BYTES,
  NET_HDR_SIZE,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VLAN_HLEN,
} from "../../src/devices/virtio/net/constants.ts";
import { type NetHeader, readNetHeader } from "../../src/devices/virtio/net/header.ts";

/** The checksum the host fills in at csum_start + csum_offset is a 16-bit field. */
export const CSUM_FIELD_BYTES = 2;

interface TxFrame extends NetHeader {
  /** Bytes after the header. */
  readonly len: number;
  readonly needsCsum: boolean;
  /** gso_type without the ECN bit. */
  readonly gso: number;
  readonly ecn: boolean;
  offered(feature: number): boolean;
  readonly mtu: number;
}

const RULES: readonly (readonly [string, (f: TxFrame) => boolean])[] = [
  ["a frame longer than 64 KiB", (f) => f.len + NET_HDR_SIZE <= MAX_FRAME_BYTES],
  ["NEEDS_CSUM without VIRTIO_NET_F_CSUM", (f) => !f.needsCsum || f.offered(VIRTIO_NET_F_CSUM)],
  [
    "a checksum field past the frame",
    (f) => !f.needsCsum || f.csumStart + f.csumOffset + CSUM_FIELD_BYTES <= f.len,
  ],
  [
    "a GSO type that was not negotiated",
    (f) =>
      f.gso === VIRTIO_NET_HDR_GSO_NONE ||
      (f.gso === VIRTIO_NET_HDR_GSO_TCPV4 && f.offered(VIRTIO_NET_F_HOST_TSO4)) ||
      (f.gso === VIRTIO_NET_HDR_GSO_TCPV6 && f.offered(VIRTIO_NET_F_HOST_TSO6)),
  ],
  [
    "GSO_ECN without segmentation or VIRTIO_NET_F_HOST_ECN",
    (f) => !f.ecn || (f.gso !== VIRTIO_NET_HDR_GSO_NONE && f.offered(VIRTIO_NET_F_HOST_ECN)),
  ],
  [
    "an unsegmented frame over the MTU",
    (f) => f.gso !== VIRTIO_NET_HDR_GSO_NONE || f.len <= f.mtu + ETH_HLEN + VLAN_HLEN,
  ],
  ["a segmented frame without NEEDS_CSUM", (f) => f.gso === VIRTIO_NET_HDR_GSO_NONE || f.needsCsum],
  ["a segmented frame with gso_size 0", (f) => f.gso === VIRTIO_NET_HDR_GSO_NONE || f.gsoSize > 0],
  ["hdr_len past the frame", (f) => f.gso === VIRTIO_NET_HDR_GSO_NONE || f.hdrLen <= f.len],
  [
    "csum_start inside the Ethernet header",
    (f) => f.gso === VIRTIO_NET_HDR_GSO_NONE || f.csumStart >= ETH_HLEN,
  ],
];

/**
 * What the host's TAP must get for the transmitted `packet`: the guest's bytes, but for the header flags the device
 * does not know on transmit, which it ignores (virtio 1.2 section 5.1.6.2.2): only NEEDS_CSUM stays.
 */
export function expectedOnTap(packet: Uint8Array): Uint8Array {
  const sent = packet.slice();
  if (sent.length > HDR_FLAGS) sent[HDR_FLAGS] = sent[HDR_FLAGS]! & VIRTIO_NET_HDR_F_NEEDS_CSUM;
  return sent;
}

/**
 * The first rule the transmitted `packet` (header, then frame) breaks under the negotiated `features`, or
 * undefined when the host may have it.
 */
export function txRuleBroken(packet: Uint8Array, features: bigint, mtu: number): string | undefined {
  if (packet.length < NET_HDR_SIZE + ETH_HLEN) return "no room for the header and an Ethernet header";
  const h = readNetHeader(packet);
  const frame: TxFrame = {
    ...h,
    len: packet.length - NET_HDR_SIZE,
    needsCsum: (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0,
    gso: h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN,
    ecn: (h.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0,
    offered: (feature) => (features & featureBit(feature)) !== 0n,
    mtu,
  };
  return RULES.find(([, holds]) => !holds(frame))?.[0];
}
