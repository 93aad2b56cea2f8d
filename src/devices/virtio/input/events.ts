// Input events on the wire. The guest gets struct virtio_input_event (5.8.6: le16 type, le16 code, le32 value);
// an event source socket carries the same records (the crosvm book: "a socket carrying virtio_input_event
// structures"); a host evdev node reads and writes struct input_event (a timeval before the same three fields).
// A stream of records may arrive in pieces: RecordStream keeps a partial record until the rest comes and drops
// (and counts) records that are not a valid event for the device.
import { hasBit, type InputDeviceConfig } from "./config.ts";
import { CODE_MAX, EV_MAX, EV_SYN, HOST_INPUT_EVENT_SIZE, VIRTIO_INPUT_EVENT_SIZE } from "./constants.ts";

export interface InputEvent {
  readonly type: number;
  readonly code: number;
  readonly value: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** struct virtio_input_event at `offset`. */
export function decodeVirtioEvent(bytes: Uint8Array, offset = 0): InputEvent {
  const v = view(bytes);
  return {
    type: v.getUint16(offset, true),
    code: v.getUint16(offset + 2, true),
    value: v.getInt32(offset + 4, true),
  };
}

export function encodeVirtioEvent(e: InputEvent, out = new Uint8Array(VIRTIO_INPUT_EVENT_SIZE)): Uint8Array {
  const v = view(out);
  v.setUint16(0, e.type, true);
  v.setUint16(2, e.code, true);
  v.setInt32(4, e.value, true);
  return out;
}

/** struct input_event (x86-64) at `offset`; the timestamp is not carried (the guest's evdev stamps its own). */
export function decodeHostEvent(bytes: Uint8Array, offset = 0): InputEvent {
  return decodeVirtioEvent(bytes, offset + 16);
}

/** struct input_event with a zero timestamp (the kernel stamps events written to an evdev node). */
export function encodeHostEvent(e: InputEvent): Uint8Array {
  const out = new Uint8Array(HOST_INPUT_EVENT_SIZE);
  encodeVirtioEvent(e, out.subarray(16));
  return out;
}

/**
 * Why `e` is not an event the device can report, or undefined: a type beyond EV_MAX or without codes, a code
 * beyond its type's maximum, or a type or code the device's configuration does not list (EV_SYN always passes).
 */
export function eventProblem(e: InputEvent, config: InputDeviceConfig): string | undefined {
  if (e.type > EV_MAX) return `event type ${e.type} is beyond EV_MAX`;
  const max = CODE_MAX[e.type];
  if (max === undefined) return `event type ${e.type} has no codes`;
  if (e.code > max) return `code ${e.code} is beyond the maximum ${max} of event type ${e.type}`;
  if (e.type === EV_SYN) return undefined;
  const bits = config.events.get(e.type);
  if (!bits) return `the device does not report event type ${e.type}`;
  if (!hasBit(bits, e.code)) return `the device does not report code ${e.code} of event type ${e.type}`;
  return undefined;
}

/** Splits a byte stream into fixed-size event records, keeping a partial record for the next bytes. */
export class RecordStream {
  readonly #partial: Uint8Array;
  #have = 0;
  /** Records dropped because eventProblem refused them. */
  malformed = 0;
  lastProblem: string | undefined;

  constructor(
    readonly recordSize: number,
    readonly decode: (bytes: Uint8Array, offset: number) => InputEvent,
    readonly config: InputDeviceConfig,
  ) {
    this.#partial = new Uint8Array(recordSize);
  }

  /** Bytes of an incomplete record waiting for the rest. */
  get pendingBytes(): number {
    return this.#have;
  }

  /** The complete, valid events in `bytes` (after what was pending), in order. */
  push(bytes: Uint8Array): InputEvent[] {
    const out: InputEvent[] = [];
    let at = 0;
    if (this.#have > 0) {
      const take = Math.min(this.recordSize - this.#have, bytes.length);
      this.#partial.set(bytes.subarray(0, take), this.#have);
      this.#have += take;
      at = take;
      if (this.#have < this.recordSize) return out;
      this.#accept(this.decode(this.#partial, 0), out);
      this.#have = 0;
    }
    for (; at + this.recordSize <= bytes.length; at += this.recordSize)
      this.#accept(this.decode(bytes, at), out);
    if (at < bytes.length) {
      this.#partial.set(bytes.subarray(at));
      this.#have = bytes.length - at;
    }
    return out;
  }

  #accept(e: InputEvent, out: InputEvent[]): void {
    const problem = eventProblem(e, this.config);
    if (problem === undefined) out.push(e);
    else {
      this.malformed++;
      this.lastProblem = problem;
    }
  }
}

/** A socket source's records: struct virtio_input_event. */
export const socketRecordSize = VIRTIO_INPUT_EVENT_SIZE;
