// Test support for virtio-net, shared by its unit tests and its fuzz target: frames with their offload header,
// and a TAP queue in memory. Tests only; no device code imports this.
import {
  HDR_CSUM_OFFSET,
  HDR_CSUM_START,
  HDR_FLAGS,
  HDR_GSO_SIZE,
  HDR_GSO_TYPE,
  HDR_HDR_LEN,
  HDR_NUM_BUFFERS,
  NET_HDR_SIZE,
} from "./constants.ts";
import type { TapQueue } from "./tap_queue.ts";

export interface HeaderFields {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
  numBuffers?: number;
}

/** A 12-byte struct virtio_net_hdr_v1 followed by a `frameLen`-byte frame whose bytes count up from 1. */
export function netPacket(h: HeaderFields, frameLen: number): Uint8Array {
  const p = new Uint8Array(NET_HDR_SIZE + frameLen);
  const v = new DataView(p.buffer);
  v.setUint8(HDR_FLAGS, h.flags ?? 0);
  v.setUint8(HDR_GSO_TYPE, h.gsoType ?? 0);
  v.setUint16(HDR_HDR_LEN, h.hdrLen ?? 0, true);
  v.setUint16(HDR_GSO_SIZE, h.gsoSize ?? 0, true);
  v.setUint16(HDR_CSUM_START, h.csumStart ?? 0, true);
  v.setUint16(HDR_CSUM_OFFSET, h.csumOffset ?? 0, true);
  v.setUint16(HDR_NUM_BUFFERS, h.numBuffers ?? 0, true);
  for (let i = 0; i < frameLen; i++) p[NET_HDR_SIZE + i] = (i + 1) & 0xff;
  return p;
}

/** A TAP queue whose receive side is a list of waiting frames and whose transmit side records frames. */
export class FakeTap implements TapQueue {
  readonly fd = -1;
  readonly incoming: Uint8Array[] = [];
  readonly written: Uint8Array[] = [];
  offload: number | undefined;
  enabled = true;
  reads = 0;
  failWrites = false;

  read(buf: Uint8Array): number {
    this.reads++;
    const frame = this.incoming.shift();
    if (!frame) return 0;
    buf.set(frame.subarray(0, buf.length));
    return Math.min(frame.length, buf.length);
  }

  write(packet: Uint8Array): void {
    if (this.failWrites) throw new Error("write on TAP queue 0 failed: EIO");
    this.written.push(packet.slice());
  }

  setOffload(flags: number): void {
    this.offload = flags;
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }
}
