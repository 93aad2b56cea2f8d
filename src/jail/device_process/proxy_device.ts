// The VMM's stand-in for a virtio device that runs in a device process: every VirtioDevice method becomes one
// message on the control socket (protocol.ts). Requests that wait for a reply block the calling thread in poll(2)
// for at most the reply deadline: config-space reads happen on a vCPU exit (served on the main thread by the
// MainThreadHub) and must answer before the vCPU resumes. The device process answers between bounded batches of
// queue work, so a reply normally comes within milliseconds; a device that misses the deadline is marked
// unresponsive (every later request fails at once), reported through `onUnresponsive`, and the VM is stopped by
// its owner instead of hanging. The object holds no device state of its own, and queue processing never passes
// through it: the queues' ioeventfds and the vectors' irqfds belong to the device process.
//
// Threads: fds are process-wide, so the same socket serves every thread. `share()` describes the proxy as
// structured-cloneable data and `ProxyVirtioDevice.revive()` rebuilds it in a vCPU Worker; all copies hold one
// SharedMutex (in a SharedArrayBuffer) around each request/reply pair, so replies never cross between threads.
import { MSG_DONTWAIT, MSG_NOSIGNAL, POLLERR, POLLHUP, POLLIN, poll, recv, send } from "../../../ffi/libc.ts";
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
  encodeBytes,
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

/** Layout of the shared buffer: i32 mutex at 0, i32 unresponsive flag at 4, u64 acked features at 8. */
const SHARED_BYTES = 16;
const UNRESPONSIVE_WORD = 1;

/**
 * How long a request waits for the device process's reply. The device answers between batches of at most 64
 * chains (process_queue.ts), a few milliseconds on a host; the nested TCG rig is some hundred times slower, and
 * a batch of large block requests there takes up to about a second. Meanwhile the calling thread (the main
 * thread, for a config read from the guest) waits, so this bounds how long a silent device can hold the VMM.
 */
export const REPLY_DEADLINE_MS = 3000;

export interface ProxyShare {
  readonly debugLabel: string;
  readonly deviceType: number;
  readonly queueMaxSizes: readonly number[];
  readonly features: bigint;
  readonly pid: number;
  readonly controlFd: number;
  readonly eventFd: number;
  readonly shared: SharedArrayBuffer;
  /** Reply deadline in ms (default REPLY_DEADLINE_MS). */
  readonly replyDeadlineMs?: number;
}

/** The device process is gone or answered something that is not a reply. */
export class DeviceProcessError extends Error {
  override name = "DeviceProcessError";
}

/** The device process did not answer a request within the reply deadline. */
export class DeviceUnresponsiveError extends DeviceProcessError {
  override name = "DeviceUnresponsiveError";
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
  readonly #flags: Int32Array;
  readonly #replyDeadlineMs: number;
  #interrupt: Interrupt | undefined;
  /** Called with each kind-specific event (EventDevice) drained in this thread (the balloon's control hook). */
  onDeviceEvent: ((payload: Uint8Array) => void) | undefined;
  /** --trace-file: called with each queue trace message (EventQueueTrace, protocol.ts) drained in this thread. */
  onQueueTrace: ((msg: Uint8Array) => void) | undefined;
  /** Called (in the thread that saw it) when a reply misses its deadline, with a one-line message. */
  onUnresponsive: ((message: string) => void) | undefined;
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
    this.#flags = new Int32Array(share.shared, 0, 2);
    this.#replyDeadlineMs = share.replyDeadlineMs ?? REPLY_DEADLINE_MS;
  }

  /** A request to this device missed its deadline (in any thread); the device is not asked again. */
  get unresponsive(): boolean {
    return Atomics.load(this.#flags, UNRESPONSIVE_WORD) !== 0;
  }

  /** A proxy for the device that said `hello` on `controlFd`. */
  static fromHello(
    hello: Hello,
    controlFd: number,
    eventFd: number,
    replyDeadlineMs?: number,
  ): ProxyVirtioDevice {
    return new ProxyVirtioDevice({
      ...hello,
      controlFd,
      eventFd,
      shared: new SharedArrayBuffer(SHARED_BYTES),
      replyDeadlineMs,
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
      replyDeadlineMs: this.#replyDeadlineMs,
    };
  }

  #checkResponsive(): void {
    if (this.unresponsive)
      throw new DeviceUnresponsiveError(
        `${this.debugLabel}: device process (pid ${this.pid}) stopped answering; not asking it again`,
      );
  }

  #post(msg: Uint8Array): void {
    this.#checkResponsive();
    if (send(this.controlFd, msg, MSG_NOSIGNAL, `${this.debugLabel} control socket`) === null)
      throw new DeviceProcessError(`${this.debugLabel}: control socket is full`);
  }

  /** Sends `msg` and waits for its reply; returns the reply's payload (a view of the reuse buffer). */
  #request(msg: Uint8Array): Uint8Array {
    this.#post(msg);
    this.#awaitReply();
    const n = recv(this.controlFd, this.#buf, MSG_DONTWAIT, `${this.debugLabel} control socket`);
    if (!n) throw new DeviceProcessError(`${this.debugLabel}: device process (pid ${this.pid}) is gone`);
    const op = this.#buf[0];
    if (op === Op.ReplyOk) return this.#buf.subarray(1, n);
    if (op === Op.ReplyError) throw new Error(decodeText(this.#buf.subarray(0, n)));
    throw new ProtocolError(`${this.debugLabel}: unexpected reply opcode ${op}`);
  }

  /** Waits until the control socket is readable (or hung up), at most the reply deadline. */
  #awaitReply(): void {
    const deadline = performance.now() + this.#replyDeadlineMs;
    for (;;) {
      const left = Math.ceil(deadline - performance.now());
      if (left <= 0) break;
      const revents = poll([{ fd: this.controlFd, events: POLLIN }], left)[0]!;
      if (revents & (POLLIN | POLLHUP | POLLERR)) return;
    }
    Atomics.store(this.#flags, UNRESPONSIVE_WORD, 1);
    const message = `device ${this.debugLabel} (pid ${this.pid}) did not answer within ${this.#replyDeadlineMs} ms`;
    this.onUnresponsive?.(message);
    throw new DeviceUnresponsiveError(message);
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

  /** A kind-specific request (VirtioDevice.controlRequest in the device process); returns a copy of its reply. */
  deviceRequest(payload: Uint8Array): Uint8Array {
    return this.#call(encodeBytes(Op.DeviceRequest, payload)).slice();
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
    return this.#drain(interrupt, false);
  }

  /**
   * After the device process ended: hands what is left of its queue trace (sent before its Shutdown reply) to
   * `onQueueTrace`; its other events no longer matter. Returns how many events were read.
   */
  drainAfterExit(): number {
    return this.#drain(undefined, true);
  }

  #drain(interrupt: Interrupt | undefined, exited: boolean): number {
    const buf = new Uint8Array(MAX_MESSAGE);
    let count = 0;
    for (;;) {
      const n = recv(this.eventFd, buf, MSG_DONTWAIT, `${this.debugLabel} event socket`);
      if (!n) return count;
      count++;
      const msg = buf.subarray(0, n);
      if (msg[0] === Op.EventDevice) {
        if (!exited) this.onDeviceEvent?.(msg.slice(1));
        continue;
      }
      if (msg[0] === Op.EventQueueTrace) {
        this.onQueueTrace?.(msg);
        continue;
      }
      if (!interrupt) continue;
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
