// The control queue (virtio 1.2 section 5.1.6.5): struct virtio_net_ctrl { u8 class; u8 command; }, the
// command's data, then one device-writable ack byte. Two classes are served: MQ VQ_PAIRS_SET (5.1.6.5.5) and
// GUEST_OFFLOADS_SET (5.1.6.5.6.1); anything else is answered VIRTIO_NET_ERR.
import { featureBit } from "../constants.ts";
import type { DescriptorChain } from "../descriptor_chain.ts";
import { Reader, Writer } from "../descriptor_utils.ts";
import {
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN,
  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_OK,
} from "./constants.ts";
import { GUEST_OFFLOAD_FEATURES } from "./header.ts";

/** What a control command acts on (the device). */
export interface ControlTarget {
  readonly ackedFeatures: bigint;
  readonly pairs: number;
  setActivePairs(n: number): void;
  setGuestOffloads(offloads: bigint): void;
}

/** Handles one command chain; returns the bytes written (the ack). Throws for a chain too short to answer. */
export function handleControl(target: ControlTarget, chain: DescriptorChain): number {
  const r = Reader.of(chain);
  const w = Writer.of(chain);
  if (w.available < 1) throw new Error("control command without room for its ack");
  const head = r.readExact(2, "control command header");
  const ack = runCommand(target, head[0]!, head[1]!, r);
  // The ack is the chain's last device-writable byte (the driver's status buffer).
  w.splitAt(w.available - 1).writeU8(ack, "ack");
  return 1;
}

function runCommand(target: ControlTarget, cls: number, cmd: number, r: Reader): number {
  const acked = target.ackedFeatures;
  if (cls === VIRTIO_NET_CTRL_MQ && cmd === VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
    if ((acked & featureBit(VIRTIO_NET_F_MQ)) === 0n || r.available < 2) return VIRTIO_NET_ERR;
    const bytes = r.readExact(2, "virtqueue_pairs");
    const pairs = bytes[0]! | (bytes[1]! << 8);
    if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > target.pairs) return VIRTIO_NET_ERR;
    target.setActivePairs(pairs);
    return VIRTIO_NET_OK;
  }
  if (cls === VIRTIO_NET_CTRL_GUEST_OFFLOADS && cmd === VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET) {
    if ((acked & featureBit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) === 0n || r.available < 8)
      return VIRTIO_NET_ERR;
    const offloads = r.readU64("offloads");
    // 5.1.6.5.6.2: only offloads that were negotiated may be enabled.
    if ((offloads & ~(acked & GUEST_OFFLOAD_FEATURES)) !== 0n) return VIRTIO_NET_ERR;
    target.setGuestOffloads(offloads);
    return VIRTIO_NET_OK;
  }
  return VIRTIO_NET_ERR;
}
