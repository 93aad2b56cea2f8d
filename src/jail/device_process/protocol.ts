// The messages between the VMM and a device process, over a SOCK_SEQPACKET socketpair (one message per packet,
// so no framing). Shaped after crosvm's devices/src/proxy.rs command set, cut to what a VirtioDevice needs:
// requests that change nothing the caller waits on (ack features, config writes, queue notify) are fire-and-forget;
// every other request waits for exactly one reply. ReadConfig/WriteConfig run on vCPU exits, so every message is a
// few fixed little-endian fields, never JSON.
//
//   byte 0   opcode
//   byte 1.. fields as listed per opcode below (little-endian)
//
// A second socketpair carries events the child raises on its own (interrupts that need the transport: INTx-mode
// used-buffer and configuration-change notifications, DEVICE_NEEDS_RESET; kind-specific events; with --trace-file
// the queue trace); see interrupts in host.ts. Anything the child says unasked goes there: on the control socket
// the VMM reads exactly one reply after each request, so an unasked message would be taken for a reply.
import { printableAscii } from "../../base/printable.ts";
import type { QueueSlice } from "../../devices/virtio/queue_trace.ts";
import type { QueueState } from "../../devices/virtio/split_queue.ts";

export const Op = {
  /** child -> main, first message: u32 pid (host pid), u32 device type, u64 features, u16 queue count, u16 sizes[], label. */
  Hello: 1,
  /** u64 features (fire-and-forget). */
  AckFeatures: 2,
  /** u32 offset, u32 length -> reply with the bytes. */
  ReadConfig: 3,
  /** u32 offset, bytes (fire-and-forget). */
  WriteConfig: 4,
  /** u64 features, u16 queue count, then QUEUE_ENTRY_SIZE bytes per queue -> reply. */
  Activate: 5,
  Reset: 6,
  Sleep: 7,
  Wake: 8,
  /** -> reply, then the child exits with status 0. */
  Shutdown: 9,
  /** u16 queue index (fire-and-forget); only when the transport has no ioeventfd for the queue. */
  QueueNotify: 10,
  // 11 is not used: it was a test hook, now a test-only device kind (test/kvm/jail/test_kinds.ts).
  /** u64 new size in bytes -> reply (the `disk resize` control command; block devices only). */
  Resize: 12,
  /** Opaque kind-specific bytes -> reply with the model's answer (VirtioDevice.controlRequest; the balloon's). */
  DeviceRequest: 13,
  ReplyOk: 0x80,
  /** utf-8 error text. */
  ReplyError: 0x81,
  /** Events, child -> main on the event socket. u16 vector. */
  EventUsedQueue: 0x40,
  EventConfigChanged: 0x41,
  /** utf-8 reason. */
  EventNeedsReset: 0x42,
  /** Opaque kind-specific bytes for the kind's control hook (Interrupt.signalDeviceEvent). */
  EventDevice: 0x43,
  /** --trace-file: the device's finished queue slices (encodeQueueTrace). */
  EventQueueTrace: 0x44,
} as const;

/** Largest message: a full device-specific config window (4 KiB, virtio_pci_device.ts) plus headers. */
export const MAX_MESSAGE = 8192;

/**
 * One queue in Activate: u16 index, u16 max size, u16 size, u16 vector, u16 next avail, u16 next used, u8 ready,
 * 3 pad, u64 descriptor table, u64 available ring, u64 used ring.
 */
export const QUEUE_ENTRY_SIZE = 40;

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const text = new TextEncoder();
const untext = new TextDecoder();

export function encodeText(op: number, message: string): Uint8Array {
  const body = text.encode(message.slice(0, MAX_MESSAGE / 4));
  const out = new Uint8Array(1 + body.length);
  out[0] = op;
  out.set(body, 1);
  return out;
}

/** The text of a Reply/Event message, escaped to printable ASCII: it may come from a compromised device process. */
export function decodeText(msg: Uint8Array): string {
  return printableAscii(untext.decode(msg.subarray(1)));
}

/** Longest device label kept from a Hello (crosvm's are like "virtio-block"). */
const MAX_LABEL = 64;

export interface Hello {
  readonly pid: number;
  readonly deviceType: number;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly debugLabel: string;
}

export function encodeHello(h: Hello): Uint8Array {
  const label = text.encode(h.debugLabel);
  const out = new Uint8Array(19 + 2 * h.queueMaxSizes.length + label.length);
  const v = new DataView(out.buffer);
  out[0] = Op.Hello;
  v.setUint32(1, h.pid, true);
  v.setUint32(5, h.deviceType, true);
  v.setBigUint64(9, h.features, true);
  v.setUint16(17, h.queueMaxSizes.length, true);
  h.queueMaxSizes.forEach((n, i) => v.setUint16(19 + 2 * i, n, true));
  out.set(label, 19 + 2 * h.queueMaxSizes.length);
  return out;
}

export function decodeHello(msg: Uint8Array): Hello {
  if (msg[0] !== Op.Hello || msg.length < 19) throw new ProtocolError(`expected Hello, got opcode ${msg[0]}`);
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const n = v.getUint16(17, true);
  if (msg.length < 19 + 2 * n)
    throw new ProtocolError(`Hello is ${msg.length} bytes, too short for ${n} queues`);
  const queueMaxSizes = Array.from({ length: n }, (_, i) => v.getUint16(19 + 2 * i, true));
  return {
    pid: v.getUint32(1, true),
    deviceType: v.getUint32(5, true),
    features: v.getBigUint64(9, true),
    queueMaxSizes,
    debugLabel: printableAscii(untext.decode(msg.subarray(19 + 2 * n)), MAX_LABEL),
  };
}

export function encodeU64(op: number, value: bigint): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = op;
  new DataView(out.buffer).setBigUint64(1, value, true);
  return out;
}

export function encodeU16(op: number, value: number): Uint8Array {
  const out = new Uint8Array(3);
  out[0] = op;
  new DataView(out.buffer).setUint16(1, value, true);
  return out;
}

export function encodeOp(op: number): Uint8Array {
  return Uint8Array.of(op);
}

/** Writes ReadConfig into `out` (reused by the caller); returns its length. */
export function encodeReadConfig(out: Uint8Array, offset: number, length: number): number {
  const v = new DataView(out.buffer, out.byteOffset, 9);
  out[0] = Op.ReadConfig;
  v.setUint32(1, offset, true);
  v.setUint32(5, length, true);
  return 9;
}

/** Writes WriteConfig into `out`; returns its length. */
export function encodeWriteConfig(out: Uint8Array, offset: number, data: Uint8Array): number {
  out[0] = Op.WriteConfig;
  new DataView(out.buffer, out.byteOffset, 5).setUint32(1, offset, true);
  out.set(data, 5);
  return 5 + data.length;
}

/** The offset and length of a ReadConfig, or offset and data of a WriteConfig. */
export function decodeConfigAccess(msg: Uint8Array): { offset: number; length: number; data: Uint8Array } {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg[0] === Op.ReadConfig) {
    if (msg.length !== 9) throw new ProtocolError(`ReadConfig is ${msg.length} bytes, expected 9`);
    const length = v.getUint32(5, true);
    if (length > MAX_MESSAGE - 1) throw new ProtocolError(`ReadConfig of ${length} bytes is too long`);
    return { offset: v.getUint32(1, true), length, data: msg.subarray(9) };
  }
  if (msg.length < 5) throw new ProtocolError(`WriteConfig is ${msg.length} bytes, expected at least 5`);
  return { offset: v.getUint32(1, true), length: msg.length - 5, data: msg.subarray(5) };
}

export function readU64(msg: Uint8Array): bigint {
  if (msg.length !== 9) throw new ProtocolError(`opcode ${msg[0]}: ${msg.length} bytes, expected 9`);
  return new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getBigUint64(1, true);
}

export function readU16(msg: Uint8Array): number {
  if (msg.length !== 3) throw new ProtocolError(`opcode ${msg[0]}: ${msg.length} bytes, expected 3`);
  return new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint16(1, true);
}

export interface ActivateQueue extends QueueState {
  readonly index: number;
}

export function encodeActivate(features: bigint, queues: readonly ActivateQueue[]): Uint8Array {
  const out = new Uint8Array(11 + QUEUE_ENTRY_SIZE * queues.length);
  const v = new DataView(out.buffer);
  out[0] = Op.Activate;
  v.setBigUint64(1, features, true);
  v.setUint16(9, queues.length, true);
  queues.forEach((q, i) => {
    const at = 11 + QUEUE_ENTRY_SIZE * i;
    v.setUint16(at, q.index, true);
    v.setUint16(at + 2, q.maxSize, true);
    v.setUint16(at + 4, q.size, true);
    v.setUint16(at + 6, q.vector, true);
    v.setUint16(at + 8, q.nextAvail, true);
    v.setUint16(at + 10, q.nextUsed, true);
    out[at + 12] = q.ready ? 1 : 0;
    v.setBigUint64(at + 16, BigInt(q.descTable), true);
    v.setBigUint64(at + 24, BigInt(q.availRing), true);
    v.setBigUint64(at + 32, BigInt(q.usedRing), true);
  });
  return out;
}

export function decodeActivate(msg: Uint8Array): { features: bigint; queues: ActivateQueue[] } {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.length < 11) throw new ProtocolError(`Activate is ${msg.length} bytes, expected at least 11`);
  const n = v.getUint16(9, true);
  if (msg.length !== 11 + QUEUE_ENTRY_SIZE * n)
    throw new ProtocolError(
      `Activate is ${msg.length} bytes, expected ${11 + QUEUE_ENTRY_SIZE * n} for ${n} queues`,
    );
  const queues: ActivateQueue[] = [];
  for (let i = 0; i < n; i++) {
    const at = 11 + QUEUE_ENTRY_SIZE * i;
    queues.push({
      index: v.getUint16(at, true),
      maxSize: v.getUint16(at + 2, true),
      size: v.getUint16(at + 4, true),
      vector: v.getUint16(at + 6, true),
      nextAvail: v.getUint16(at + 8, true),
      nextUsed: v.getUint16(at + 10, true),
      ready: msg[at + 12] === 1,
      descTable: Number(v.getBigUint64(at + 16, true)),
      availRing: Number(v.getBigUint64(at + 24, true)),
      usedRing: Number(v.getBigUint64(at + 32, true)),
    });
  }
  return { features: v.getBigUint64(1, true), queues };
}

/** A message of opcode `op` carrying `payload` as it is. */
export function encodeBytes(op: number, payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_MESSAGE - 1)
    throw new ProtocolError(`opcode ${op}: ${payload.length} bytes is too long`);
  const out = new Uint8Array(1 + payload.length);
  out[0] = op;
  out.set(payload, 1);
  return out;
}

/**
 * EventQueueTrace: u8 opcode, u32 slices dropped in the device since its last message, u16 count, then per slice
 * u16 queue, u32 requests, f64 start (epoch ms), f64 total latency (µs), f64 largest latency (µs).
 */
export const QUEUE_TRACE_HEADER = 7;
export const QUEUE_SLICE_SIZE = 30;
/** Slices in one message: as many as fit in MAX_MESSAGE. */
export const MAX_SLICES_PER_MESSAGE = Math.floor((MAX_MESSAGE - QUEUE_TRACE_HEADER) / QUEUE_SLICE_SIZE);

/** `slices` as EventQueueTrace messages of at most MAX_SLICES_PER_MESSAGE each; `dropped` goes in the first. */
export function encodeQueueTrace(slices: readonly QueueSlice[], dropped: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (
    let first = 0;
    first < slices.length || (first === 0 && dropped > 0);
    first += MAX_SLICES_PER_MESSAGE
  ) {
    const part = slices.slice(first, first + MAX_SLICES_PER_MESSAGE);
    const msg = new Uint8Array(QUEUE_TRACE_HEADER + QUEUE_SLICE_SIZE * part.length);
    const v = new DataView(msg.buffer);
    msg[0] = Op.EventQueueTrace;
    v.setUint32(1, first === 0 ? Math.min(dropped, 0xffffffff) : 0, true);
    v.setUint16(5, part.length, true);
    part.forEach((s, i) => {
      const at = QUEUE_TRACE_HEADER + QUEUE_SLICE_SIZE * i;
      v.setUint16(at, s.queue, true);
      v.setUint32(at + 2, Math.min(s.requests, 0xffffffff), true);
      v.setFloat64(at + 6, s.startMs, true);
      v.setFloat64(at + 14, s.totalUs, true);
      v.setFloat64(at + 22, s.maxUs, true);
    });
    out.push(msg);
  }
  return out;
}

/** An EventQueueTrace message's fields, as sent: the receiver checks the values (they come from the device). */
export function decodeQueueTrace(msg: Uint8Array): { dropped: number; slices: QueueSlice[] } {
  if (msg[0] !== Op.EventQueueTrace || msg.length < QUEUE_TRACE_HEADER)
    throw new ProtocolError(`queue trace of ${msg.length} bytes is too short`);
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const n = v.getUint16(5, true);
  if (msg.length !== QUEUE_TRACE_HEADER + QUEUE_SLICE_SIZE * n)
    throw new ProtocolError(
      `queue trace is ${msg.length} bytes, expected ${QUEUE_TRACE_HEADER + QUEUE_SLICE_SIZE * n} for ${n} slices`,
    );
  const slices: QueueSlice[] = [];
  for (let i = 0; i < n; i++) {
    const at = QUEUE_TRACE_HEADER + QUEUE_SLICE_SIZE * i;
    slices.push({
      queue: v.getUint16(at, true),
      requests: v.getUint32(at + 2, true),
      startMs: v.getFloat64(at + 6, true),
      totalUs: v.getFloat64(at + 14, true),
      maxUs: v.getFloat64(at + 22, true),
    });
  }
  return { dropped: v.getUint32(1, true), slices };
}
