// The vhost core: hands a kernel vhost device (vhost-vsock, vhost-net) the guest memory table and the rings of the
// queues the driver enabled, so that the kernel moves the data itself (crosvm devices/src/virtio/vhost/worker.rs
// and vhost/src/lib.rs; QEMU hw/virtio/vhost.c does the same sequence). The kick of each vring is the queue's
// ioeventfd (KVM signals it on the guest's notify write) and its call is the irqfd of the queue's MSI-X vector
// (KVM injects the MSI when the kernel signals it), so a packet passes through no user-space process at all.
//
// A queue without an MSI-X vector (a driver on INTx) cannot take the irqfd: the transport must set the ISR bit
// before it raises INTx, which the kernel cannot do. Its vring's call is then a relay eventfd this module makes
// for every vring of every vhost device (crosvm's vhost_interrupt, devices/src/virtio/vhost/worker.rs): the
// device process polls it (relaySources) and makes the transport's used-buffer notification.
//
// Everything here runs in the process that called VHOST_SET_OWNER (the device process, or the VMM in single
// process mode): the memory table's userspace_addr and the ring addresses are that process's mappings of guest
// RAM, which the kernel reaches through the owner's mm.
import { EFD_CLOEXEC, EFD_NONBLOCK, eventfd } from "../../../../ffi/libc.ts";
import type { VhostMemoryRegion } from "../../../../ffi/vhost.ts";
import type { GuestMemory } from "../../../vm_memory/guest_memory.ts";
import { VIRTIO_MSI_NO_VECTOR } from "../constants.ts";
import type { DeviceEventFds, PollSource } from "../kind.ts";
export type { DeviceEventFds };
import { availRingSize, descTableSize, type Queue, usedRingSize } from "../split_queue.ts";
import { kernelEventSource } from "./error_source.ts";

/** The ioctls the core makes (ffi/vhost.ts VhostFd has them; unit tests record them instead). */
export interface VhostIoctls {
  setFeatures(features: bigint): void;
  setMemTable(regions: readonly VhostMemoryRegion[]): void;
  setVringNum(index: number, num: number): void;
  setVringAddr(index: number, rings: { desc: number; avail: number; used: number }): void;
  setVringBase(index: number, base: number): void;
  setVringKick(index: number, fd: number): void;
  setVringCall(index: number, fd: number): void;
  setVringErr(index: number, fd: number): void;
}

/** A vring the driver set up in a way the kernel cannot use: refused at activation, in one line. */
export class VhostRingError extends Error {
  override name = "VhostRingError";
}

/** The guest memory table: each region at its guest address, its size, and this process's mapping of it. */
export function memoryRegions(mem: GuestMemory): VhostMemoryRegion[] {
  return mem.regions.map((r) => ({ guestAddr: r.guestAddr, size: r.size, hostAddr: r.hostAddr }));
}

/** Host addresses of a queue's three rings (the queue was validated against `mem` when it was activated). */
export function ringAddresses(mem: GuestMemory, q: Queue): { desc: number; avail: number; used: number } {
  const at = (name: string, addr: number, len: number) => {
    const host = mem.hostAddress(addr, len);
    if (host < 0) throw new VhostRingError(`${name} at 0x${addr.toString(16)} is not inside one RAM region`);
    return host;
  };
  return {
    desc: at("descriptor table", q.descTable, descTableSize(q.size)),
    avail: at("available ring", q.availRing, availRingSize(q.size)),
    used: at("used ring", q.usedRing, usedRingSize(q.size)),
  };
}

/** Makes one eventfd (a call relay); unit tests pass one that records what it made. */
export type EventFdMaker = () => number;

/** A non-blocking eventfd closed on exec: what a call relay is. */
export const newRelayEventFd: EventFdMaker = () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

/**
 * The kernel-side rings of one vhost device fd. `queues[i]` is the device queue behind vring i (vhost-vsock:
 * rx 0 and tx 1; vhost-net: the rx and tx queue of one pair, one fd per pair). Made in `build`, before the
 * device process confines itself: its call relays are eventfds made here.
 */
export class VhostRings {
  /**
   * The call relay of vring i at index i: the vring's call when its queue has no MSI-X vector (INTx), polled by
   * the device process (relaySources), which passes the kernel's signal to the transport.
   */
  readonly relayFds: readonly number[];

  constructor(
    readonly vhost: VhostIoctls,
    readonly queues: readonly number[],
    readonly events: DeviceEventFds,
    /** Signalled by the kernel when it cannot access a ring (VHOST_SET_VRING_ERR); -1 for none. */
    readonly errorFd: number,
    makeEventFd: EventFdMaker = newRelayEventFd,
  ) {
    this.relayFds = queues.map(() => makeEventFd());
  }

  /**
   * What the device process polls for the call relays: `onCall(queue)` when the kernel used buffers of device
   * queue `queue` whose vring has the relay as its call.
   */
  relaySources(onCall: (queue: number) => void): PollSource[] {
    return this.relayFds.map((fd, vring) => kernelEventSource(fd, () => onCall(this.queues[vring]!)));
  }

  /**
   * Gives the kernel the negotiated features, the memory table and every vring (size, ring addresses, the next
   * available index, call, kick and error eventfds). The backend is attached afterwards by the device
   * (VHOST_VSOCK_SET_RUNNING, VHOST_NET_SET_BACKEND), which makes the kernel start reading the rings.
   */
  start(mem: GuestMemory, features: bigint, queues: ReadonlyMap<number, Queue>): void {
    // Check every queue before the first ioctl, so that a refused activation leaves the kernel as it was.
    const plan = this.queues.map((qi, vring) => {
      const q = queues.get(qi);
      if (!q) throw new VhostRingError(`queue ${qi} was not enabled by the driver (the kernel needs it)`);
      const kick = this.events.queueEvents[qi];
      if (kick === undefined) throw new VhostRingError(`queue ${qi} has no ioeventfd`);
      // VIRTIO_MSI_NO_VECTOR: the driver runs without MSI-X (INTx: the ISR bit the transport must set first
      // cannot be set from the kernel) or wants no interrupt for this queue: the relay eventfd, whose signal the
      // device passes to the transport (which raises INTx, or nothing with MSI-X on).
      const call = q.vector === VIRTIO_MSI_NO_VECTOR ? this.relayFds[vring] : this.events.irqfds[q.vector];
      if (call === undefined)
        throw new VhostRingError(`queue ${qi} uses MSI-X vector ${q.vector}, which the device does not have`);
      return { vring, q, kick, call, rings: ringAddresses(mem, q) };
    });
    this.vhost.setFeatures(features);
    this.vhost.setMemTable(memoryRegions(mem));
    for (const { vring, q, kick, call, rings } of plan) {
      this.vhost.setVringNum(vring, q.size);
      this.vhost.setVringAddr(vring, rings);
      this.vhost.setVringBase(vring, q.nextAvail);
      this.vhost.setVringCall(vring, call);
      this.vhost.setVringKick(vring, kick);
      if (this.errorFd >= 0) this.vhost.setVringErr(vring, this.errorFd);
    }
  }
}
