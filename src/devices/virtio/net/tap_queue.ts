// One queue of a TAP interface as the net device uses it: frames with their 12-byte offload header in and out,
// the offloads the reader accepts, and (multi-queue) whether the queue takes part. The VMM opened and configured
// the TAP (open_tap.ts); the device process only reads, writes and makes the two ioctls its policy allows
// (TUNSETOFFLOAD, TUNSETQUEUE), none of which needs CAP_NET_ADMIN. Unit tests use a fake with the same shape.
import { ioctl } from "../../../../ffi/libc.ts";
import {
  IFF_ATTACH_QUEUE,
  IFF_DETACH_QUEUE,
  ifreq,
  readFrame,
  TUNSETOFFLOAD,
  TUNSETQUEUE,
  writeFrame,
} from "../../../../ffi/tun.ts";
import { errnoName } from "../../../../ffi/errno.ts";

export interface TapQueue {
  /** The descriptor the device process polls for received frames (-1 for a fake). */
  readonly fd: number;
  /** Reads one frame (header first) into `buf`: its length, or 0 when none is waiting. Throws on an error. */
  read(buf: Uint8Array): number;
  /** Writes one frame (header first). Throws on an error. */
  write(packet: Uint8Array): void;
  /** TUNSETOFFLOAD: the TUN_F_* offloads the guest accepts on receive. */
  setOffload(flags: number): void;
  /** TUNSETQUEUE: attach (true) or detach this queue of a multi-queue TAP. */
  setEnabled(enabled: boolean): void;
}

export class FdTapQueue implements TapQueue {
  #enabled = true;

  constructor(
    readonly fd: number,
    readonly label: string,
  ) {}

  read(buf: Uint8Array): number {
    const n = readFrame(this.fd, buf);
    if (n < 0) throw new Error(`read on ${this.label} failed: ${errnoName(-n)}`);
    return n;
  }

  write(packet: Uint8Array): void {
    const n = writeFrame(this.fd, packet);
    if (n < 0) throw new Error(`write on ${this.label} failed: ${errnoName(-n)}`);
  }

  setOffload(flags: number): void {
    ioctl(this.fd, TUNSETOFFLOAD, flags, "TUNSETOFFLOAD", this.label);
  }

  setEnabled(enabled: boolean): void {
    if (enabled === this.#enabled) return;
    const req = ifreq("", enabled ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE);
    ioctl(this.fd, TUNSETQUEUE, req, "TUNSETQUEUE", this.label);
    this.#enabled = enabled;
  }
}
