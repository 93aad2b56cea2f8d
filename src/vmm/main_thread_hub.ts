// Bus devices whose state lives only on the main thread (the PCI root and the virtio-pci transports), reached
// from the vCPU Workers by a synchronous call: the Worker writes the access into its own slot of a shared
// mailbox, wakes the main thread through a BroadcastChannel and sleeps on the slot until the main thread has
// performed the access. One call costs about 16-25 µs on a host with hardware virtualization, but 0.7-3 ms in the
// nested rig (measured with CROSVM_TRACE_EXITS=1), so only what must reach main-thread state comes here: PCI
// configuration cycles of present functions, virtio common/device configuration and MSI-X table writes. Queue
// notifications never do (they are ioeventfds, handled by the device process), and a device with a vCPU side
// (VcpuSide below: the PCI root's configuration windows) answers the rest in the vCPU thread.
import { GuestLog } from "../base/guest_log.ts";
import { logger } from "../base/log.ts";
import type { BusDevice } from "../devices/bus.ts";
import { type DeviceShare, registerDeviceKind, type ShareableDevice } from "../devices/shared_device.ts";

const log = logger("vmm::main_thread_hub");

export const MAIN_THREAD_DEVICE_KIND = "main-thread";

// Mailbox layout, in Int32 words. Word 0 hands out slots; each slot is SLOT_WORDS words:
//   0 state (IDLE, REQUEST, DONE), 1 device id, 2 op (OP_READ, OP_WRITE), 3 offset, 4 length, 5..6 data (8 bytes)
const SLOT_WORDS = 8;
const MAX_SLOTS = 64;
const IDLE = 0;
const REQUEST = 1;
const DONE = 2;
const OP_READ = 0;
const OP_WRITE = 1;

/**
 * A main-thread device that can answer some accesses in the vCPU thread from shared memory (the PCI root's
 * configuration windows answer absent functions): `vcpuShare` describes that vCPU-side device, which passes the
 * rest on to `forward`, the hub client that calls the main thread.
 */
export interface VcpuSide {
  vcpuShare(forward: DeviceShare): DeviceShare;
}

interface HubState {
  readonly buffer: SharedArrayBuffer;
  readonly channel: string;
  readonly id: number;
  readonly label: string;
}

/** Main-thread side: owns the devices and answers the Workers' calls. */
export class MainThreadHub {
  readonly buffer = new SharedArrayBuffer(4 * (1 + MAX_SLOTS * SLOT_WORDS));
  readonly channel = `crosvm-hub-${process.pid}-${crypto.randomUUID()}`;
  readonly #words = new Int32Array(this.buffer);
  readonly #bytes = new Uint8Array(this.buffer);
  readonly #devices: BusDevice[] = [];
  #listener: BroadcastChannel | undefined;

  /**
   * Wraps `device` so that it can be put on a Bus that vCPU Workers revive. A device with a vCPU side
   * (`vcpuShare`) is revived as that, over the hub client, so that it answers what it can in the vCPU thread.
   */
  wrap(device: BusDevice & Partial<VcpuSide>): ShareableDevice {
    const id = this.#devices.push(device) - 1;
    const state: HubState = { buffer: this.buffer, channel: this.channel, id, label: device.debugLabel };
    const client: DeviceShare = { kind: MAIN_THREAD_DEVICE_KIND, state };
    return {
      debugLabel: device.debugLabel,
      read: (offset, data) => device.read(offset, data),
      write: (offset, data) => device.write(offset, data),
      share: (): DeviceShare => (device.vcpuShare ? device.vcpuShare(client) : client),
    };
  }

  /** Starts answering calls; the main thread's event loop must keep turning while vCPUs run. */
  start(): void {
    if (this.#listener) return;
    this.#listener = new BroadcastChannel(this.channel);
    this.#listener.onmessage = (e) => this.#serve(Number(e.data));
  }

  close(): void {
    this.#listener?.close();
    this.#listener = undefined;
    // Release any Worker still waiting, with zeros, so that a stopping vCPU never hangs.
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      const base = 1 + slot * SLOT_WORDS;
      if (Atomics.load(this.#words, base) === REQUEST) {
        Atomics.store(this.#words, base, DONE);
        Atomics.notify(this.#words, base);
      }
    }
  }

  #serve(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) return;
    const words = this.#words;
    const base = 1 + slot * SLOT_WORDS;
    if (Atomics.load(words, base) !== REQUEST) return;
    const device = this.#devices[words[base + 1]!];
    const op = words[base + 2]!;
    const offset = words[base + 3]! >>> 0;
    const len = words[base + 4]!;
    const data = this.#bytes.subarray((base + 5) * 4, (base + 5) * 4 + len);
    try {
      if (!device) data.fill(0);
      else if (op === OP_READ) device.read(offset, data);
      else device.write(offset, data);
    } catch (e) {
      // A device model must not throw on guest input; if one does, the access is dropped, never the VM.
      new GuestLog(log, device?.debugLabel ?? "device").error("access failed", (e as Error).message);
      if (op === OP_READ) data.fill(0);
    }
    Atomics.store(words, base, DONE);
    Atomics.notify(words, base);
  }
}

/** Worker side: forwards each access to the main thread and waits for it. */
class MainThreadDeviceClient implements BusDevice {
  readonly debugLabel: string;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #base: number;
  readonly #id: number;
  readonly #channel: BroadcastChannel;
  readonly #slotMessage: number;

  constructor(state: HubState, slot: number, channel: BroadcastChannel) {
    this.debugLabel = state.label;
    this.#words = new Int32Array(state.buffer);
    this.#bytes = new Uint8Array(state.buffer);
    this.#base = 1 + slot * SLOT_WORDS;
    this.#id = state.id;
    this.#channel = channel;
    this.#slotMessage = slot;
  }

  #call(op: number, offset: number, data: Uint8Array): void {
    const w = this.#words;
    const base = this.#base;
    const len = Math.min(data.length, 8);
    w[base + 1] = this.#id;
    w[base + 2] = op;
    w[base + 3] = offset | 0;
    w[base + 4] = len;
    const payload = this.#bytes.subarray((base + 5) * 4, (base + 5) * 4 + 8);
    if (op === OP_WRITE) payload.set(data.subarray(0, len));
    Atomics.store(w, base, REQUEST);
    this.#channel.postMessage(this.#slotMessage);
    // A wake-up the main thread never saw must not strand the vCPU: after each second without an answer the
    // call is announced again (the main thread serves a slot only while it holds REQUEST, so twice is harmless).
    let waitedSeconds = 0;
    while (Atomics.load(w, base) === REQUEST) {
      if (Atomics.wait(w, base, REQUEST, 1000) !== "timed-out") continue;
      if (++waitedSeconds === 1)
        log.warn(`${this.debugLabel}: the main thread has not answered for 1 s; asking again`);
      this.#channel.postMessage(this.#slotMessage);
    }
    if (op === OP_READ) data.set(payload.subarray(0, len));
    Atomics.store(w, base, IDLE);
  }

  read(offset: number, data: Uint8Array): void {
    this.#call(OP_READ, offset, data);
  }

  write(offset: number, data: Uint8Array): void {
    this.#call(OP_WRITE, offset, data);
  }
}

// One slot and one channel per (thread, hub): a thread makes one call at a time, whatever the device.
const threadSlots = new Map<SharedArrayBuffer, { slot: number; channel: BroadcastChannel }>();

function reviveClient(raw: unknown): BusDevice {
  const state = raw as HubState;
  let mine = threadSlots.get(state.buffer);
  if (!mine) {
    const slot = Atomics.add(new Int32Array(state.buffer), 0, 1);
    if (slot >= MAX_SLOTS) throw new Error(`main-thread device hub: more than ${MAX_SLOTS} threads`);
    mine = { slot, channel: new BroadcastChannel(state.channel) };
    threadSlots.set(state.buffer, mine);
  }
  return new MainThreadDeviceClient(state, mine.slot, mine.channel);
}

registerDeviceKind(MAIN_THREAD_DEVICE_KIND, reviveClient);
