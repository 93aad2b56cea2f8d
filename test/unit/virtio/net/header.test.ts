// The transmit header checks (virtio 1.2 section 5.1.6.2) and the mapping of receive offloads to TUNSETOFFLOAD.
import { describe, expect, test } from "bun:test";
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN } from "../../../../ffi/tun.ts";
import { featureBit } from "../../../../src/devices/virtio/constants.ts";
import {
  MAX_FRAME_BYTES,
  NET_HDR_SIZE,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_TSO4,
  HDR_FLAGS,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP,
} from "../../../../src/devices/virtio/net/constants.ts";
import {
  clearUnknownTxFlags,
  readNetHeader,
  tapOffloadFlags,
  txFrameProblem,
} from "../../../../src/devices/virtio/net/header.ts";
import { netPacket } from "../../../../src/devices/virtio/net/testing.ts";

const CSUM_TSO4 = featureBit(VIRTIO_NET_F_CSUM) | featureBit(VIRTIO_NET_F_HOST_TSO4);
const tso4 = {
  flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
  gsoType: VIRTIO_NET_HDR_GSO_TCPV4,
  hdrLen: 54,
  gsoSize: 1448,
};
const csum = { csumStart: 34, csumOffset: 16 };

describe("txFrameProblem", () => {
  test("a plain 60-byte frame with no offload passes", () => {
    expect(txFrameProblem(netPacket({}, 60), 0n)).toBeUndefined();
  });

  test("a 64 KiB TSO4 frame with its checksum request passes when HOST_TSO4 and CSUM were negotiated", () => {
    expect(txFrameProblem(netPacket({ ...tso4, ...csum }, 65000), CSUM_TSO4)).toBeUndefined();
  });

  test("a frame shorter than an Ethernet header is refused", () => {
    expect(txFrameProblem(netPacket({}, 13), 0n)).toContain("shorter than");
  });

  test("a frame longer than a 64 KiB packet is refused", () => {
    expect(txFrameProblem(new Uint8Array(MAX_FRAME_BYTES + 1), CSUM_TSO4)).toContain("longer than");
  });

  test("an unsegmented frame over the MTU is refused", () => {
    expect(txFrameProblem(netPacket({}, 1600), 0n)).toContain("over the MTU");
  });

  test("flags the device does not know on transmit do not refuse a frame (5.1.6.2.2: ignored)", () => {
    expect(txFrameProblem(netPacket({ flags: VIRTIO_NET_HDR_F_DATA_VALID | 0x80 }, 60), 0n)).toBeUndefined();
  });

  test("clearing unknown transmit flags keeps NEEDS_CSUM and drops the rest", () => {
    const packet = netPacket({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID | 0x80 }, 60);

    clearUnknownTxFlags(packet);

    expect(packet[HDR_FLAGS]).toBe(VIRTIO_NET_HDR_F_NEEDS_CSUM);
  });

  test("NEEDS_CSUM without the CSUM feature is refused", () => {
    expect(txFrameProblem(netPacket({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, ...csum }, 60), 0n)).toContain(
      "without VIRTIO_NET_F_CSUM",
    );
  });

  test("a checksum offset past the frame's end is refused", () => {
    const packet = netPacket({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 50, csumOffset: 16 }, 60);
    expect(txFrameProblem(packet, CSUM_TSO4)).toContain("lies past");
  });

  test("a segmentation type that was not negotiated is refused", () => {
    const v6 = netPacket({ ...tso4, gsoType: VIRTIO_NET_HDR_GSO_TCPV6, ...csum }, 9000);
    const udp = netPacket({ ...tso4, gsoType: VIRTIO_NET_HDR_GSO_UDP, ...csum }, 9000);
    const ecn = netPacket(
      { ...tso4, gsoType: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, ...csum },
      9000,
    );
    expect([
      txFrameProblem(v6, CSUM_TSO4),
      txFrameProblem(udp, CSUM_TSO4),
      txFrameProblem(ecn, CSUM_TSO4),
    ]).toEqual([
      "GSO_TCPV6 without VIRTIO_NET_F_HOST_TSO6",
      "GSO type 3 is not offered",
      "GSO_ECN without VIRTIO_NET_F_HOST_ECN",
    ]);
  });

  test("a segmented frame with gso_size 0, no checksum request, or hdr_len past its end is refused", () => {
    expect([
      txFrameProblem(netPacket({ ...tso4, ...csum, gsoSize: 0 }, 9000), CSUM_TSO4),
      txFrameProblem(netPacket({ ...tso4, flags: 0 }, 9000), CSUM_TSO4),
      txFrameProblem(netPacket({ ...tso4, ...csum, hdrLen: 9001 }, 9000), CSUM_TSO4),
    ]).toEqual([
      "a segmented frame with gso_size 0",
      "a segmented frame without NEEDS_CSUM",
      "hdr_len 9001 is past the 9000-byte frame",
    ]);
  });
});

test("readNetHeader reads struct virtio_net_hdr_v1's little-endian fields", () => {
  const h = readNetHeader(netPacket({ ...tso4, ...csum }, 100));
  expect(h).toEqual({ flags: 1, gsoType: 1, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
  expect(NET_HDR_SIZE).toBe(12);
});

describe("tapOffloadFlags", () => {
  const f = (...bits: number[]) => bits.reduce((a, b) => a | featureBit(b), 0n);

  test("no receive offloads: the TAP hands over only complete, checksummed frames", () => {
    expect(tapOffloadFlags(0n)).toBe(0);
  });

  test("GUEST_CSUM, TSO4, TSO6 and ECN map to TUN_F_CSUM, TSO4, TSO6 and TSO_ECN", () => {
    const all = f(
      VIRTIO_NET_F_GUEST_CSUM,
      VIRTIO_NET_F_GUEST_TSO4,
      VIRTIO_NET_F_GUEST_TSO6,
      VIRTIO_NET_F_GUEST_ECN,
    );
    expect(tapOffloadFlags(all)).toBe(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
  });

  test("segmentation without GUEST_CSUM is not asked of the TAP (it needs partial checksums)", () => {
    expect(tapOffloadFlags(f(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6))).toBe(0);
  });
});
