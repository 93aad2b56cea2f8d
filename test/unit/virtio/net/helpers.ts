// Test support for the virtio-net unit tests: frames with their offload header, and a TAP queue in memory.
import type { TapQueue } from "../../../../src/devices/virtio/net/tap_queue.ts";

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
  const p = new Uint8Array(12 + frameLen);
  const v = new DataView(p.buffer);
  v.setUint8(0, h.flags ?? 0);
  v.setUint8(1, h.gsoType ?? 0);
  v.setUint16(2, h.hdrLen ?? 0, true);
  v.setUint16(4, h.gsoSize ?? 0, true);
  v.setUint16(6, h.csumStart ?? 0, true);
  v.setUint16(8, h.csumOffset ?? 0, true);
  v.setUint16(10, h.numBuffers ?? 0, true);
  for (let i = 0; i < frameLen; i++) p[12 + i] = (i + 1) & 0xff;
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
