// virtio-net's data path on the host kernel's vhost-net (`--net ...,vhost-net=true`): one /dev/vhost-net fd per
// queue pair, its vring 0 the pair's rx queue (2i) and vring 1 its tx queue (2i+1), both backed by the pair's
// TAP queue (VHOST_NET_SET_BACKEND). The control queue stays in the device process (VQ_PAIRS_SET and
// GUEST_OFFLOADS_SET still act on the TAP queues), as in crosvm (devices/src/virtio/vhost/net.rs) and QEMU.
//
// The TAP keeps its 12-byte virtio-net header (IFF_VNET_HDR, TUNSETVNETHDRSZ 12, open_tap.ts), so vhost-net is
// never asked for VHOST_NET_F_VIRTIO_NET_HDR: the kernel passes the header between the ring and the TAP as it
// is, with the offloads the TAP was told (TUNSETOFFLOAD).
import { eventfdWrite, O_CLOEXEC, O_RDWR, open, SysError } from "../../../../ffi/libc.ts";
import { errnoName } from "../../../../ffi/errno.ts";
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import {
  featureBit,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
} from "../constants.ts";
import type { DeviceEventFds, PollSource } from "../kind.ts";
import type { Queue } from "../split_queue.ts";
import {
  type EventFdMaker,
  newRelayEventFd,
  type VhostIoctls,
  VhostRingError,
  VhostRings,
} from "../vhost/vrings.ts";
import { NET_HDR_SIZE, VIRTIO_NET_F_MRG_RXBUF } from "./constants.ts";

/** One vhost-net fd as the NIC uses it (ffi/vhost.ts VhostFd). */
export interface VhostNetIoctls extends VhostIoctls {
  netSetBackend(index: number, fd: number): void;
}

/**
 * The features the kernel must support for the device to offer them: the ring and header layout features it
 * implements. Every other virtio-net feature (offloads, MAC, MTU, STATUS, CTRL_VQ, MQ) is the device's and the
 * TAP's business, and is not told to vhost.
 */
export const VHOST_NET_KERNEL_FEATURES =
  featureBit(VIRTIO_F_VERSION_1) |
  featureBit(VIRTIO_RING_F_EVENT_IDX) |
  featureBit(VIRTIO_F_INDIRECT_DESC) |
  featureBit(VIRTIO_NET_F_MRG_RXBUF);

export const VHOST_NET_DEVICE = "/dev/vhost-net";

/** Opens one vhost-net instance; a missing node or module is one line naming `option` and what to do. */
export function openVhostNet(option: string): number {
  try {
    return open(VHOST_NET_DEVICE, O_RDWR | O_CLOEXEC);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.errno === 2 /* ENOENT */ || e.errno === 19 /* ENODEV */)
      throw new Error(
        `${option}: ${VHOST_NET_DEVICE} does not exist: load the host's vhost-net module (modprobe vhost_net)`,
      );
    throw new Error(`${option}: cannot open ${VHOST_NET_DEVICE}: ${errnoName(e.errno)}`);
  }
}

/** Queues whose ioeventfd the kernel reads: rx and tx of every pair (the control queue, last, stays). */
export function vhostNetKernelQueues(pairs: number): number[] {
  return Array.from({ length: 2 * pairs }, (_, i) => i);
}

/**
 * The virtio-net header length vhost-net expects on the TAP for `features` (drivers/vhost/net.c,
 * vhost_net_set_features: struct virtio_net_hdr_mrg_rxbuf, 12 bytes, with VIRTIO_NET_F_MRG_RXBUF or
 * VIRTIO_F_VERSION_1, else struct virtio_net_hdr, 10 bytes; without VHOST_NET_F_VIRTIO_NET_HDR the socket, here the
 * TAP, carries it). open_tap.ts gives every TAP queue NET_HDR_SIZE, so the two must agree or every frame is cut.
 */
export function vhostNetHeaderSize(features: bigint): number {
  const mergeable = featureBit(VIRTIO_NET_F_MRG_RXBUF) | featureBit(VIRTIO_F_VERSION_1);
  return (features & mergeable) !== 0n ? 12 : 10;
}

export class VhostNetBackend {
  readonly #rings: readonly VhostRings[];
  #attached = false;

  constructor(
    /** vhost-net fd of pair i at index i. */
    readonly pairs: readonly VhostNetIoctls[],
    /** TAP queue fd of pair i at index i. */
    readonly tapFds: readonly number[],
    readonly kernelFeatures: bigint,
    readonly events: DeviceEventFds,
    errorFd: number,
    /** Makes the call relays of the kernel's vrings (VhostRings). */
    makeEventFd: EventFdMaker = newRelayEventFd,
  ) {
    if (pairs.length !== tapFds.length)
      throw new Error(`vhost-net: ${pairs.length} vhost fds for ${tapFds.length} TAP queues`);
    this.#rings = pairs.map(
      (vhost, i) => new VhostRings(vhost, [2 * i, 2 * i + 1], events, errorFd, makeEventFd),
    );
  }

  /** The call relays of every pair's vrings: `onCall(queue)` with the NIC's queue index (2i rx, 2i+1 tx). */
  relaySources(onCall: (queue: number) => void): PollSource[] {
    return this.#rings.flatMap((rings) => rings.relaySources(onCall));
  }

  get attached(): boolean {
    return this.#attached;
  }

  /** The device's own features without the ring features the kernel lacks. */
  offerable(deviceFeatures: bigint): bigint {
    return deviceFeatures & ~(VHOST_NET_KERNEL_FEATURES & ~this.kernelFeatures);
  }

  /**
   * Hands every pair the driver enabled to its vhost-net fd and attaches the TAP queue behind both its vrings.
   * Pairs the driver left out (no rx or tx queue) stay with the kernel idle.
   */
  start(mem: GuestMemory, acked: bigint, queues: ReadonlyMap<number, Queue>): void {
    const features = acked & VHOST_NET_KERNEL_FEATURES & this.kernelFeatures;
    const header = vhostNetHeaderSize(features);
    if (header !== NET_HDR_SIZE)
      throw new VhostRingError(
        `the accepted features give a ${header}-byte virtio-net header, the TAP has ${NET_HDR_SIZE} (TUNSETVNETHDRSZ)`,
      );
    this.#rings.forEach((rings, i) => {
      if (!queues.has(2 * i) || !queues.has(2 * i + 1)) return;
      rings.start(mem, features, queues);
    });
    this.#attach(queues);
  }

  #attach(queues: ReadonlyMap<number, Queue>): void {
    // Attached from the first ioctl on: if a later vring refuses its TAP, the ones before it run, and the reset
    // that follows the failed activation must still detach them (else the kernel keeps using rings the driver
    // frees and reuses).
    this.#attached = true;
    this.pairs.forEach((vhost, i) => {
      if (!queues.has(2 * i) || !queues.has(2 * i + 1)) return;
      vhost.netSetBackend(0, this.tapFds[i]!);
      vhost.netSetBackend(1, this.tapFds[i]!);
    });
  }

  /**
   * Detaches the TAP from every vring (fd -1): the kernel stops, keeping each vring's last available index. A
   * vring that refuses does not keep the others attached: every one is tried, then the first refusal is thrown.
   */
  stop(): void {
    if (!this.#attached) return;
    this.#attached = false;
    let refused: unknown;
    for (const vhost of this.pairs)
      for (const vring of [0, 1])
        try {
          vhost.netSetBackend(vring, -1);
        } catch (e) {
          refused ??= e;
        }
    if (refused !== undefined) throw refused;
  }

  /**
   * A notification of kernel queue `queue` that reached the device instead of the kernel (the transport's
   * QueueNotify when no ioeventfd caught the guest's write, or one deferred while asleep): signals the queue's
   * ioeventfd, which is the vring's kick, so the kernel sees it. The device must not touch the ring itself: the
   * kernel owns its indices, and reading the TAP here would take frames from the kernel (QEMU's
   * virtio_queue_notify also sets the host notifier while vhost has it).
   */
  kick(queue: number): void {
    const fd = this.events.queueEvents[queue];
    if (fd === undefined || queue >= 2 * this.pairs.length)
      throw new Error(`vhost-net: queue ${queue} is not served by the kernel`);
    eventfdWrite(fd);
  }

  /** Attaches the TAP again after stop() (wake), with the rings the kernel still has. */
  resume(queues: ReadonlyMap<number, Queue>): void {
    if (!this.#attached) this.#attach(queues);
  }
}
