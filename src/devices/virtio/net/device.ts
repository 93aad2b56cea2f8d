// virtio-net (virtio 1.2 section 5.1) over TAP queues: queue pair i is receive queue 2i and transmit queue 2i+1
// on TAP queue i, and the control queue comes last (index 2 * pairs, 5.1.2). Offered: MAC (when one is given),
// STATUS (link up), MTU, MRG_RXBUF, CSUM/GUEST_CSUM, HOST/GUEST TSO4, TSO6 and ECN with the 12-byte header,
// CTRL_VQ with CTRL_GUEST_OFFLOADS, and MQ when there is more than one pair. Transmitted frames are checked
// (header.ts) before they reach the TAP; receive is rx.ts.
import { logger } from "../../../base/log.ts";
import { featureBit, VIRTIO_ID_NET } from "../constants.ts";
import { ChainBuffers } from "../descriptor_chain.ts";
import { type ActiveState, BASE_FEATURES, VirtioDeviceBase } from "../device_base.ts";
import { processQueue, processQueueBuffers } from "../process_queue.ts";
import type { Queue } from "../split_queue.ts";
import type { PollSource } from "../kind.ts";
import {
  CONFIG_MAC,
  CONFIG_MAX_VQ_PAIRS,
  CONFIG_MTU,
  CONFIG_SIZE,
  CONFIG_STATUS,
  DEFAULT_MTU,
  MAX_FRAME_BYTES,
  NET_QUEUE_SIZE,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_S_LINK_UP,
} from "./constants.ts";
import { handleControl } from "./ctrl.ts";
import { clearUnknownTxFlags, GUEST_OFFLOAD_FEATURES, tapOffloadFlags, txFrameProblem } from "./header.ts";
import { newCounters, type NetCounters, RxPath } from "./rx.ts";
import type { TapQueue } from "./tap_queue.ts";
import type { VhostNetBackend } from "./vhost_net.ts";

/** The queue sizes of a NIC with `pairs` queue pairs: rx and tx per pair, then the control queue. */
export function netQueueSizes(pairs: number): number[] {
  return new Array<number>(2 * pairs + 1).fill(NET_QUEUE_SIZE);
}

export interface VirtioNetOptions {
  /** One TAP queue per queue pair. */
  readonly taps: readonly TapQueue[];
  /** The guest's MAC address (6 bytes), or undefined to let the guest choose one. */
  readonly mac?: Uint8Array;
  readonly mtu?: number;
  readonly label?: string;
  /** The host kernel's vhost-net moves rx and tx (vhost_net.ts); the device keeps the control queue. */
  readonly vhost?: VhostNetBackend;
}

export class VirtioNet extends VirtioDeviceBase {
  readonly debugLabel: string;
  readonly deviceType = VIRTIO_ID_NET;
  readonly queueMaxSizes: readonly number[];
  protected readonly log = logger("devices::virtio::net");

  readonly counters: NetCounters = newCounters();
  readonly #taps: readonly TapQueue[];
  readonly #rx: readonly RxPath[];
  readonly #config = new Uint8Array(CONFIG_SIZE);
  readonly #features: bigint;
  readonly #txBuf = new Uint8Array(MAX_FRAME_BYTES);
  #txChain: ChainBuffers | undefined;
  /** Queue pairs in use: 1 until the driver sets more through the control queue (5.1.6.5.5). */
  #activePairs = 1;
  readonly mtu: number;
  readonly #vhost: VhostNetBackend | undefined;

  constructor(o: VirtioNetOptions) {
    super();
    if (o.taps.length === 0) throw new Error("virtio-net needs at least one TAP queue");
    this.debugLabel = o.label ?? "virtio-net";
    this.#taps = o.taps;
    this.queueMaxSizes = netQueueSizes(o.taps.length);
    this.mtu = o.mtu ?? DEFAULT_MTU;
    this.#rx = o.taps.map((tap) => new RxPath(tap, this.counters, this.guestLog));
    let features =
      BASE_FEATURES |
      featureBit(VIRTIO_NET_F_CSUM) |
      featureBit(VIRTIO_NET_F_GUEST_CSUM) |
      featureBit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
      featureBit(VIRTIO_NET_F_MTU) |
      featureBit(VIRTIO_NET_F_GUEST_TSO4) |
      featureBit(VIRTIO_NET_F_GUEST_TSO6) |
      featureBit(VIRTIO_NET_F_GUEST_ECN) |
      featureBit(VIRTIO_NET_F_HOST_TSO4) |
      featureBit(VIRTIO_NET_F_HOST_TSO6) |
      featureBit(VIRTIO_NET_F_HOST_ECN) |
      featureBit(VIRTIO_NET_F_MRG_RXBUF) |
      featureBit(VIRTIO_NET_F_STATUS) |
      featureBit(VIRTIO_NET_F_CTRL_VQ);
    if (o.mac) {
      if (o.mac.length !== 6) throw new Error(`a MAC address has 6 bytes, got ${o.mac.length}`);
      features |= featureBit(VIRTIO_NET_F_MAC);
      this.#config.set(o.mac, CONFIG_MAC);
    }
    if (o.taps.length > 1) features |= featureBit(VIRTIO_NET_F_MQ);
    this.#vhost = o.vhost;
    this.#features = o.vhost ? o.vhost.offerable(features) : features;
    const v = new DataView(this.#config.buffer);
    v.setUint16(CONFIG_STATUS, VIRTIO_NET_S_LINK_UP, true);
    v.setUint16(CONFIG_MAX_VQ_PAIRS, o.taps.length, true);
    v.setUint16(CONFIG_MTU, this.mtu, true);
  }

  get pairs(): number {
    return this.#taps.length;
  }

  get activePairs(): number {
    return this.#activePairs;
  }

  features(): bigint {
    return this.#features;
  }

  readConfig(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset >= CONFIG_SIZE) return;
    data.set(this.#config.subarray(offset, Math.min(CONFIG_SIZE, offset + data.length)));
  }

  /** Whether the serve loop should poll pair `i`'s TAP queue: active, in use, and the guest has buffers. */
  wantsRx(i: number): boolean {
    const active = this.active;
    return (
      this.#vhost === undefined &&
      active !== undefined &&
      i < this.#activePairs &&
      active.queues.has(2 * i) &&
      !this.#rx[i]!.waitingForBuffers &&
      !this.#rx[i]!.broken
    );
  }

  /** The TAP queue of pair `i` has frames: deliver them. False once that TAP queue has failed for good. */
  rxReady(i: number): boolean {
    const active = this.active;
    const queue = active?.queues.get(2 * i);
    const rx = this.#rx[i]!;
    if (this.#vhost === undefined && active && queue && i < this.#activePairs && !rx.waitingForBuffers)
      rx.deliver(active.mem, queue, active.interrupt, this.#mergeable);
    return !rx.broken;
  }

  get #mergeable(): boolean {
    return (this.ackedFeatures & featureBit(VIRTIO_NET_F_MRG_RXBUF)) !== 0n;
  }

  protected override onActivate(active: ActiveState): void {
    this.#txChain = new ChainBuffers(active.mem);
    for (const rx of this.#rx) rx.reset();
    this.setGuestOffloads(this.ackedFeatures & GUEST_OFFLOAD_FEATURES);
    this.setActivePairs(1);
    this.#vhost?.start(active.mem, this.ackedFeatures, active.queues);
  }

  /** Detaches the TAP from the kernel's vrings; a failure is logged (a reset or sleep must not fail). */
  #stopVhost(why: string): void {
    try {
      this.#vhost?.stop();
    } catch (e) {
      this.log.error(`${this.debugLabel}: stopping vhost-net (${why}): ${(e as Error).message}`);
    }
  }

  override reset(): void {
    this.#stopVhost("reset");
    super.reset();
    for (const rx of this.#rx) rx.reset();
  }

  override sleep(): void {
    if (this.lifecycle === "active") this.#stopVhost("sleep");
    super.sleep();
  }

  override wake(): void {
    if (this.lifecycle !== "asleep") return;
    super.wake();
    const active = this.active;
    if (active) this.#vhost?.resume(active.queues);
  }

  /** With vhost-net: the call relays of its kernel queues, which the device process polls (vhost/vrings.ts). */
  relaySources(): PollSource[] {
    return this.#vhost?.relaySources((queue) => this.relayUsedQueue(queue)) ?? [];
  }

  /** With vhost-net: the kernel signalled VHOST_SET_VRING_ERR's eventfd (it could not access a ring). */
  kernelRingError(): void {
    this.guestLog.warn("vhost ring error", "vhost-net could not access a vring; the device needs a reset");
    this.active?.interrupt.signalNeedsReset("vhost-net could not access a vring");
  }

  /** TUNSETOFFLOAD on every TAP queue for the receive offloads `offloads`. */
  setGuestOffloads(offloads: bigint): void {
    const flags = tapOffloadFlags(offloads);
    for (const tap of this.#taps) tap.setOffload(flags);
  }

  /**
   * Uses the first `n` pairs: the TAP queues of the others are detached, so the host sends them nothing. A TAP
   * queue that refuses is logged and left as it was (its frames then wait in the TAP, which drops past its queue).
   */
  setActivePairs(n: number): void {
    for (let i = 0; i < this.#taps.length; i++) {
      try {
        this.#taps[i]!.setEnabled(i < n);
      } catch (e) {
        this.guestLog.warn("tap queue", `TAP queue ${i}: ${(e as Error).message}`);
      }
    }
    this.#activePairs = n;
  }

  protected processQueue(index: number, queue: Queue, active: ActiveState): void {
    const ctrl = 2 * this.#taps.length;
    if (index === ctrl) {
      processQueue(queue, active.interrupt, (chain) => handleControl(this, chain), this.guestLog);
      return;
    }
    if (this.#vhost) {
      // rx and tx belong to the kernel (vhost_net.ts): hand it the notification, touch neither ring nor TAP.
      this.#vhost.kick(index);
      return;
    }
    const pair = index >> 1;
    if (index % 2 === 0) {
      this.#rx[pair]!.buffersAdded();
      this.rxReady(pair);
      return;
    }
    this.#transmit(pair, queue, active);
  }

  #transmit(pair: number, queue: Queue, active: ActiveState): void {
    const tap = this.#taps[pair]!;
    const chain = this.#txChain!;
    const features = this.ackedFeatures;
    processQueueBuffers(
      queue,
      active.interrupt,
      chain,
      (c) => {
        let total = 0;
        for (let i = 0; i < c.count; i++) if (c.writable[i] === 0) total += c.len[i]!;
        if (total > MAX_FRAME_BYTES)
          return this.#txDrop(`frame of ${total} bytes is longer than ${MAX_FRAME_BYTES}`);
        let at = 0;
        for (let i = 0; i < c.count; i++) {
          if (c.writable[i] !== 0 || c.len[i] === 0) continue;
          this.#txBuf.set(active.mem.slice(c.addr[i]!, c.len[i]!), at);
          at += c.len[i]!;
        }
        const packet = this.#txBuf.subarray(0, at);
        const problem = txFrameProblem(packet, features, this.mtu);
        if (problem !== undefined) return this.#txDrop(problem);
        clearUnknownTxFlags(packet);
        try {
          tap.write(packet);
          this.counters.txFrames++;
        } catch (e) {
          this.#txDrop((e as Error).message);
        }
        return 0;
      },
      this.guestLog,
    );
  }

  #txDrop(why: string): number {
    this.counters.txDropped++;
    this.guestLog.warn("tx dropped", `dropped a transmitted frame: ${why}`);
    return 0;
  }
}
