// The VMM's stand-in for a virtio device that runs in a device process: every VirtioDevice method becomes one
// message on the control socket (protocol.ts). Requests that wait for a reply block the calling thread on recv(2);
// that is the point: config-space reads happen on a vCPU exit and must answer before the vCPU resumes. The object
// holds no device state of its own, and queue processing never passes through it: the queues' ioeventfds and the
// vectors' irqfds belong to the device process.
//
// Threads: fds are process-wide, so the same socket serves every thread. `share()` describes the proxy as
// structured-cloneable data and `ProxyVirtioDevice.revive()` rebuilds it in a vCPU Worker; all copies hold one
// SharedMutex (in a SharedArrayBuffer) around each request/reply pair, so replies never cross between threads.
import { MSG_DONTWAIT, MSG_NOSIGNAL, recv, send } from "../../../ffi/libc.ts";
import { GuestLog } from "../../base/guest_log.ts";
import { logger } from "../../base/log.ts";
import { SharedMutex } from "../../base/shared_mutex.ts";
import type { Interrupt } from "../../devices/virtio/interrupt.ts";
import type { Queue } from "../../devices/virtio/split_queue.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio_device.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import {
  decodeText,
  encodeActivate,
  encodeOp,
  encodeReadConfig,
  encodeU16,
  encodeU64,
  encodeWriteConfig,
  type Hello,
  MAX_MESSAGE,
  Op,
  ProtocolError,
} from "./protocol.ts";

const log = logger("jail::device_process");

/** Layout of the shared buffer: i32 mutex at 0, u64 acked features at 8. */
const SHARED_BYTES = 16;

export interface ProxyShare {
  readonly debugLabel: string;
  readonly deviceType: number;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;
  readonly pid: number;
  readonly controlFd: number;
  readonly eventFd: number;
  readonly shared: SharedArrayBuffer;
}

/** The device process is gone or answered something that is not a reply. */
export class DeviceProcessError extends Error {
  override name = "DeviceProcessError";
}

export class ProxyVirtioDevice implements VirtioDevice {
  readonly debugLabel: string;
  readonly deviceType: number;
  readonly queueMaxSizes: readonly number[];
  readonly pid: number;
  readonly controlFd: number;
  /** Main end of the event socket; readable when the device raised an event for drainEvents. */
  readonly eventFd: number;
  readonly #features: bigint;
  readonly #shared: SharedArrayBuffer;
  readonly #mutex: SharedMutex;
  readonly #acked: BigUint64Array;
  readonly #buf = new Uint8Array(MAX_MESSAGE);
  readonly #readConfigRequest = new Uint8Array(9);
  #interrupt: Interrupt | undefined;
  /** Notifies come from the guest and events from the device process: their warnings are rate-limited. */
  readonly #guestLog: GuestLog;

  constructor(share: ProxyShare) {
    this.debugLabel = share.debugLabel;
    this.#guestLog = new GuestLog(log, share.debugLabel);
    this.deviceType = share.deviceType;
    this.queueMaxSizes = share.queueMaxSizes;
    this.pid = share.pid;
    this.controlFd = share.controlFd;
    this.eventFd = share.eventFd;
    this.#features = share.features;
    this.#shared = share.shared;
    this.#mutex = new SharedMutex(share.shared);
    this.#acked = new BigUint64Array(share.shared, 8, 1);
  }

  /** A proxy for the device that said `hello` on `controlFd`. */
  static fromHello(hello: Hello, controlFd: number, eventFd: number): ProxyVirtioDevice {
    return new ProxyVirtioDevice({
      ...hello,
      controlFd,
      eventFd,
      shared: new SharedArrayBuffer(SHARED_BYTES),
    });
  }

  /** Rebuilds a proxy from `share()` in another thread. */
  static revive(share: ProxyShare): ProxyVirtioDevice {
    return new ProxyVirtioDevice(share);
  }

  share(): ProxyShare {
    return {
      debugLabel: this.debugLabel,
      deviceType: this.deviceType,
      queueMaxSizes: this.queueMaxSizes,
      features: this.#features,
      pid: this.pid,
      controlFd: this.controlFd,
      eventFd: this.eventFd,
      shared: this.#shared,
    };
  }

  #post(msg: Uint8Array): void {
    if (send(this.controlFd, msg, MSG_NOSIGNAL, `${this.debugLabel} control socket`) === null)
      throw new DeviceProcessError(`${this.debugLabel}: control socket is full`);
  }

  /** Sends `msg` and waits for its reply; returns the reply's payload (a view of the reuse buffer). */
  #request(msg: Uint8Array): Uint8Array {
    this.#post(msg);
    const n = recv(this.controlFd, this.#buf, 0, `${this.debugLabel} control socket`);
    if (!n) throw new DeviceProcessError(`${this.debugLabel}: device process (pid ${this.pid}) is gone`);
    const op = this.#buf[0];
    if (op === Op.ReplyOk) return this.#buf.subarray(1, n);
    if (op === Op.ReplyError) throw new Error(decodeText(this.#buf.subarray(0, n)));
    throw new ProtocolError(`${this.debugLabel}: unexpected reply opcode ${op}`);
  }

  #call(msg: Uint8Array): Uint8Array {
    return this.#mutex.with(() => this.#request(msg));
  }

  #fire(msg: Uint8Array): void {
    this.#mutex.with(() => this.#post(msg));
  }

  features(): bigint {
    return this.#features;
  }

  ackFeatures(features: bigint): void {
    this.#acked[0] = features & this.#features;
    this.#fire(encodeU64(Op.AckFeatures, features));
  }

  readConfig(offset: number, data: Uint8Array): void {
    this.#mutex.with(() => {
      encodeReadConfig(this.#readConfigRequest, offset, data.length);
      const reply = this.#request(this.#readConfigRequest);
      data.set(reply.subarray(0, data.length));
    });
  }

  writeConfig(offset: number, data: Uint8Array): void {
    if (data.length > MAX_MESSAGE - 5) throw new ProtocolError(`${this.debugLabel}: config write too long`);
    this.#mutex.with(() => {
      const len = encodeWriteConfig(this.#buf, offset, data);
      this.#post(this.#buf.subarray(0, len));
    });
  }

  /** Sends the queues' addresses and positions; the device process rebuilds them over its own guest mapping. */
  activate(_mem: GuestMemory, interrupt: Interrupt, queues: ReadonlyMap<number, Queue>): void {
    const list = [...queues].map(([index, q]) => ({ index, ...q.snapshot() }));
    this.#call(encodeActivate(this.#acked[0]!, list));
    this.#interrupt = interrupt;
  }

  /** Only used when the transport has no ioeventfd for the queue: forwarded without waiting. */
  queueNotify(index: number): void {
    try {
      this.#fire(encodeU16(Op.QueueNotify, index));
    } catch (e) {
      this.#guestLog.warn("queue notify", `queue ${index} notify: ${(e as Error).message}`);
    }
  }

  reset(): void {
    this.#call(encodeOp(Op.Reset));
    this.#interrupt = undefined;
  }

  /** Resizes the device's disk; throws with the device's one-line reason (not a block device, read-only...). */
  resize(bytes: number): void {
    this.#call(encodeU64(Op.Resize, BigInt(bytes)));
  }

  sleep(): void {
    this.#call(encodeOp(Op.Sleep));
  }

  wake(): void {
    this.#call(encodeOp(Op.Wake));
  }

  /** Asks the device process to exit (it replies first). */
  shutdown(): void {
    this.#call(encodeOp(Op.Shutdown));
  }

  /**
   * Applies the events the device process raised (see child_interrupt.ts) to `interrupt`, by default the one
   * given to activate in this thread; never blocks. Returns how many were applied. The VMM calls it when
   * `eventFd` is readable.
   */
  drainEvents(interrupt: Interrupt | undefined = this.#interrupt): number {
    const buf = new Uint8Array(MAX_MESSAGE);
    let count = 0;
    for (;;) {
      const n = recv(this.eventFd, buf, MSG_DONTWAIT, `${this.debugLabel} event socket`);
      if (!n) return count;
      count++;
      if (!interrupt) continue;
      const msg = buf.subarray(0, n);
      switch (msg[0]) {
        case Op.EventUsedQueue:
          interrupt.signalUsedQueue(new DataView(msg.buffer, 1, 2).getUint16(0, true));
          break;
        case Op.EventConfigChanged:
          interrupt.signalConfigChanged();
          break;
        case Op.EventNeedsReset:
          interrupt.signalNeedsReset(decodeText(msg));
          break;
        default:
          this.#guestLog.warn("unknown event", `ignoring unknown event opcode ${msg[0]}`);
      }
    }
  }
}
