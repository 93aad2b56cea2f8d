// virtio-vsock (virtio 1.2 section 5.10) on the host kernel's vhost-vsock: the rx (0) and tx (1) queues belong to
// the kernel (src/devices/virtio/vhost/vrings.ts), the event queue (2) stays here. The driver keeps buffers in the
// event queue; the only event, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, tells it that every connection is gone and to
// read guest_cid again (crosvm devices/src/virtio/vhost/vsock.rs, QEMU hw/virtio/vhost-vsock-common.c).
//
// Lifecycle: activate = the vrings to the kernel, then VHOST_VSOCK_SET_RUNNING 1; reset = SET_RUNNING 0 (the
// kernel drops the rings; a later activation hands it the new ones from index 0); sleep/wake (SuspendVm /
// ResumeVm) = SET_RUNNING 0/1: the kernel keeps each vring's last available index and reads the used index back
// from the guest when it starts again, so connections survive a suspend and no transport reset is sent (QEMU and
// Firecracker send one only when a VM is restored from a snapshot, where the host's sockets are gone).
import { logger } from "../../../base/log.ts";
import {
  featureBit,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_VSOCK,
  VIRTIO_RING_F_EVENT_IDX,
} from "../constants.ts";
import { Writer } from "../descriptor_utils.ts";
import { type ActiveState, VirtioDeviceBase } from "../device_base.ts";
import { processQueue } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import type { PollSource } from "../kind.ts";
import { type DeviceEventFds, type EventFdMaker, type VhostIoctls, VhostRings } from "../vhost/vrings.ts";

/** crosvm's vhost vsock QUEUE_SIZE, for each of the three queues. */
export const VSOCK_QUEUE_SIZE = 256;
/** 5.10.2: receiveq 0, transmitq 1, eventq 2. */
export const VSOCK_RX_QUEUE = 0;
export const VSOCK_TX_QUEUE = 1;
export const VSOCK_EVENT_QUEUE = 2;
/** 5.10.3: VIRTIO_VSOCK_F_STREAM is bit 0, VIRTIO_VSOCK_F_SEQPACKET bit 1 (linux/virtio_vsock.h). */
export const VIRTIO_VSOCK_F_SEQPACKET = 1;
/** 5.10.6.3 struct virtio_vsock_event { le32 id; }; id 0 is VIRTIO_VSOCK_EVENT_TRANSPORT_RESET. */
export const VIRTIO_VSOCK_EVENT_TRANSPORT_RESET = 0;
export const VSOCK_EVENT_SIZE = 4;
/** 5.10.4 struct virtio_vsock_config { le64 guest_cid; } */
export const VSOCK_CONFIG_SIZE = 8;

/**
 * What the device offers the driver, if the kernel supports it: the ring features our event queue handles too,
 * and SEQPACKET sockets. Never VHOST_F_LOG_ALL (no dirty log) or VIRTIO_F_ACCESS_PLATFORM (no IOMMU).
 */
export const VSOCK_OFFERABLE_FEATURES =
  featureBit(VIRTIO_F_VERSION_1) |
  featureBit(VIRTIO_RING_F_EVENT_IDX) |
  featureBit(VIRTIO_F_INDIRECT_DESC) |
  featureBit(VIRTIO_VSOCK_F_SEQPACKET);

/** The vhost-vsock fd as the device uses it (ffi/vhost.ts VhostFd). */
export interface VhostVsockIoctls extends VhostIoctls {
  vsockSetRunning(running: boolean): void;
}

export interface VirtioVsockOptions {
  readonly cid: number;
  readonly vhost: VhostVsockIoctls;
  /** VHOST_GET_FEATURES, read once when the device is built. */
  readonly kernelFeatures: bigint;
  readonly events: DeviceEventFds;
  /** The eventfd the kernel signals on a ring access error (-1: none). */
  readonly errorFd: number;
  /** Makes the call relays of rx and tx (VhostRings; default: real eventfds). */
  readonly makeEventFd?: EventFdMaker;
}

export class VirtioVsock extends VirtioDeviceBase {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_VSOCK;
  readonly queueMaxSizes = [VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE];
  protected readonly log = logger("devices::virtio::vsock");
  readonly #rings: VhostRings;
  #running = false;

  constructor(readonly options: VirtioVsockOptions) {
    super();
    this.debugLabel = `virtio-vsock (cid ${options.cid})`;
    this.#rings = new VhostRings(
      options.vhost,
      [VSOCK_RX_QUEUE, VSOCK_TX_QUEUE],
      options.events,
      options.errorFd,
      options.makeEventFd,
    );
  }

  /** The call relays of rx and tx, which the device process polls (vhost/vrings.ts): INTx drivers need them. */
  relaySources(): PollSource[] {
    return this.#rings.relaySources((queue) => this.relayUsedQueue(queue));
  }

  /** The queues whose ioeventfd the kernel reads: the device process must not poll them. */
  static readonly KERNEL_QUEUES = [VSOCK_RX_QUEUE, VSOCK_TX_QUEUE] as const;

  get running(): boolean {
    return this.#running;
  }

  features(): bigint {
    return this.options.kernelFeatures & VSOCK_OFFERABLE_FEATURES;
  }

  readConfig(offset: number, data: Uint8Array): void {
    const config = new Uint8Array(VSOCK_CONFIG_SIZE);
    new DataView(config.buffer).setBigUint64(0, BigInt(this.options.cid), true);
    data.fill(0);
    if (offset >= 0 && offset < VSOCK_CONFIG_SIZE) data.set(config.subarray(offset, offset + data.length));
  }

  protected override onActivate(active: ActiveState): void {
    this.#rings.start(active.mem, this.ackedFeatures, active.queues);
    this.#setRunning(true);
  }

  #setRunning(running: boolean): void {
    this.options.vhost.vsockSetRunning(running);
    this.#running = running;
  }

  /** Stops the kernel's rings; a failure is logged, since the driver's reset must not fail. */
  #stop(why: string): void {
    if (!this.#running) return;
    try {
      this.#setRunning(false);
    } catch (e) {
      this.log.error(`${this.debugLabel}: stopping the vhost rings (${why}): ${(e as Error).message}`);
    }
  }

  override reset(): void {
    this.#stop("reset");
    super.reset();
  }

  override sleep(): void {
    if (this.lifecycle === "active") this.#stop("sleep");
    super.sleep();
  }

  override wake(): void {
    if (this.lifecycle !== "asleep") return;
    super.wake();
    this.#setRunning(true);
  }

  /** The kernel signalled the VHOST_SET_VRING_ERR eventfd: it could not access rx or tx. */
  kernelRingError(): void {
    this.guestLog.warn("vhost ring error", "the kernel could not access a vring; the device needs a reset");
    this.active?.interrupt.signalNeedsReset("vhost-vsock could not access a vring");
  }

  /**
   * The event queue: its buffers wait for an event (5.10.6.3), so a notification only says there are more.
   * rx and tx never get here: the kernel reads their ioeventfds.
   */
  protected processQueue(_index: number, _queue: Queue, _active: ActiveState): void {}

  /**
   * Puts VIRTIO_VSOCK_EVENT_TRANSPORT_RESET in one event buffer (5.10.6.3) and interrupts; returns false when
   * the device is not active or the driver has no event buffer.
   */
  sendTransportReset(): boolean {
    const active = this.active;
    const queue = active?.queues.get(VSOCK_EVENT_QUEUE);
    if (!active || !queue) return false;
    let left = 1;
    const event = new Uint8Array(VSOCK_EVENT_SIZE);
    new DataView(event.buffer).setUint32(0, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, true);
    const used = processQueue(
      queue,
      active.interrupt,
      (chain) => {
        const w = Writer.of(chain);
        if (w.available < VSOCK_EVENT_SIZE) throw new Error(`event buffer of ${w.available} bytes`);
        return w.write(event);
      },
      this.guestLog,
      { more: () => left-- > 0 },
    );
    return used > 0;
  }
}
