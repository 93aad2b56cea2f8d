// Control commands (virtio 1.2 section 5.1.6.5) as a hostile driver sends them, and the answer the section has
// the device give. Served: MQ VQ_PAIRS_SET (5.1.6.5.5) and GUEST_OFFLOADS_SET (5.1.6.5.6); the device offers no
// other class's feature (RX, MAC, VLAN, ANNOUNCE, RSS), so every other command is answered VIRTIO_NET_ERR.
import { featureBit } from "../../src/devices/virtio/constants.ts";
import {
  VIRTIO_NET_CTRL_ANNOUNCE,
  VIRTIO_NET_CTRL_ANNOUNCE_ACK,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
  VIRTIO_NET_CTRL_MAC,
  VIRTIO_NET_CTRL_MAC_ADDR_SET,
  VIRTIO_NET_CTRL_MAC_TABLE_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_RSS_CONFIG,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_CTRL_RX,
  VIRTIO_NET_CTRL_RX_NOBCAST,
  VIRTIO_NET_CTRL_VLAN,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
} from "../../src/devices/virtio/net/constants.ts";
import { GUEST_OFFLOAD_FEATURES } from "../../src/devices/virtio/net/header.ts";
import { mutate, type Rng } from "../random.ts";

/** A MAC address in a MAC command. */
const ETH_ALEN = 6;
/** Widths of the commands' little-endian fields (virtqueue_pairs, MAC entry counts, offloads). */
const LE16_BYTES = 2;
const LE32_BYTES = 4;
const LE64_BYTES = 8;

/** The ack, and what an OK changes. */
export interface Answer {
  readonly ack: number;
  readonly pairs?: number;
  readonly offloads?: bigint;
}

function le(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

function readLe(bytes: Uint8Array, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** struct virtio_net_ctrl_mac twice (unicast, multicast), each entry count telling the truth or not. */
function macTable(rng: Rng): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let table = 0; table < 2; table++) {
    const entries = rng.int(4);
    parts.push(le(BigInt(rng.chance(0.5) ? entries : rng.u32()), LE32_BYTES));
    for (let i = 0; i < entries; i++) parts.push(rng.bytes(ETH_ALEN));
  }
  return Buffer.concat(parts);
}

/** Receive offloads: the offered ones, one that is not (UFO), any bit. */
function offloads(rng: Rng): bigint {
  if (rng.chance(0.1)) return BigInt.asUintN(64, rng.u64());
  const bits = [
    VIRTIO_NET_F_GUEST_CSUM,
    VIRTIO_NET_F_GUEST_TSO4,
    VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_GUEST_ECN,
    VIRTIO_NET_F_GUEST_UFO,
    rng.int(64),
  ];
  let v = 0n;
  for (const bit of bits) if (rng.chance(bit === VIRTIO_NET_F_GUEST_UFO ? 0.1 : 0.5)) v |= featureBit(bit);
  return v;
}

/** class, command, data. */
function command(cls: number, cmd: number, data: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.of(cls, cmd), data]);
}

/** One command for a NIC with `pairs` queue pairs: its bytes, sometimes cut short, lengthened or mutated. */
export function hostileCommand(rng: Rng, pairs: number): Uint8Array {
  let bytes: Uint8Array;
  switch (rng.int(8)) {
    case 0:
    case 1: {
      const n = rng.pick([0, 1, 2, pairs, pairs + 1, 0x8000, 0xffff, rng.int(0x10000)]);
      bytes = command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, le(BigInt(n), LE16_BYTES));
      break;
    }
    case 2:
    case 3:
      bytes = command(
        VIRTIO_NET_CTRL_GUEST_OFFLOADS,
        VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
        le(offloads(rng), LE64_BYTES),
      );
      break;
    case 4:
      bytes = command(VIRTIO_NET_CTRL_RX, rng.int(VIRTIO_NET_CTRL_RX_NOBCAST + 1), Uint8Array.of(rng.int(2)));
      break;
    case 5:
      bytes = rng.chance(0.5)
        ? command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, macTable(rng))
        : command(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new Uint8Array(ETH_ALEN).fill(2));
      break;
    case 6:
      bytes = rng.pick([
        command(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, new Uint8Array(0)),
        command(VIRTIO_NET_CTRL_VLAN, rng.int(2), le(BigInt(rng.int(0x10000)), LE16_BYTES)),
        command(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, new Uint8Array(rng.int(64))),
      ]);
      break;
    default:
      bytes = command(rng.int(256), rng.int(256), rng.bytes(rng.int(12)));
  }
  if (rng.chance(0.1)) bytes = bytes.subarray(0, rng.int(bytes.length));
  else if (rng.chance(0.1)) bytes = Buffer.concat([bytes, new Uint8Array(1 + rng.int(8))]);
  if (rng.chance(0.1)) mutate(rng, bytes, 1 + rng.int(2));
  return bytes;
}

/**
 * What the device must answer the command `bytes` (class, command, data; at least two bytes), on a NIC with
 * `maxPairs` queue pairs that negotiated `features`.
 */
export function expectedAnswer(bytes: Uint8Array, features: bigint, maxPairs: number): Answer {
  const negotiated = (feature: number) => (features & featureBit(feature)) !== 0n;
  const [cls, cmd] = bytes;
  const data = bytes.subarray(2);
  const err = { ack: VIRTIO_NET_ERR };
  if (cls === VIRTIO_NET_CTRL_MQ && cmd === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
    if (!negotiated(VIRTIO_NET_F_MQ) || data.length < LE16_BYTES) return err;
    // 5.1.6.5.5: between 1 and max_virtqueue_pairs.
    const pairs = Number(readLe(data, LE16_BYTES));
    return pairs >= VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN && pairs <= maxPairs
      ? { ack: VIRTIO_NET_OK, pairs }
      : err;
  }
  if (cls === VIRTIO_NET_CTRL_GUEST_OFFLOADS && cmd === VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET) {
    if (!negotiated(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || data.length < LE64_BYTES) return err;
    // 5.1.6.5.6.2: only offloads whose features were negotiated.
    const value = readLe(data, LE64_BYTES);
    return (value & ~(features & GUEST_OFFLOAD_FEATURES)) === 0n
      ? { ack: VIRTIO_NET_OK, offloads: value }
      : err;
  }
  return err;
}
