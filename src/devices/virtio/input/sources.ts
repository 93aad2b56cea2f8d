// Where a virtio-input device's events come from and its status events go: a connected stream socket carrying
// struct virtio_input_event records, or a host evdev node carrying struct input_event. Each is a PollSource of the
// device process's serve loop: what is readable is split into records (a partial record waits for the rest,
// a malformed one is dropped and counted) and handed to the device in order. End of file on the socket leaves the
// device idle: it stays in the guest, with no more events.
import { MSG_DONTWAIT, MSG_NOSIGNAL, read, send, SysError, write } from "../../../../ffi/libc.ts";
import { GuestLog } from "../../../base/guest_log.ts";
import { logger } from "../../../base/log.ts";
import type { PollSource } from "../kind.ts";
import { HOST_INPUT_EVENT_SIZE, VIRTIO_INPUT_EVENT_SIZE } from "./constants.ts";
import type { StatusSink, VirtioInput } from "./device.ts";
import {
  decodeHostEvent,
  decodeVirtioEvent,
  encodeHostEvent,
  encodeVirtioEvent,
  type InputEvent,
  RecordStream,
} from "./events.ts";

const log = logger("devices::virtio::input");

/** Bytes read per wakeup: 512 socket records, or about 170 evdev events. */
const READ_CHUNK = 4096;
const EAGAIN = 11;
const EINTR = 4;

export interface InputSource extends PollSource {
  /** The record splitter (its `malformed` count is the records dropped so far). */
  readonly stream: RecordStream;
  /** Whether end of file was seen (the device is idle from then on). */
  readonly closed: boolean;
}

function source(fd: number, device: VirtioInput, stream: RecordStream, what: string): InputSource {
  const buf = new Uint8Array(READ_CHUNK);
  // The socket's peer is outside the VM but not trusted either: its complaints are rate-limited like a guest's.
  const complaints = new GuestLog(log, device.debugLabel);
  let closed = false;
  return {
    fd,
    stream,
    get closed() {
      return closed;
    },
    onReadable: () => {
      let n: number;
      try {
        n = read(fd, buf, what);
      } catch (e) {
        const errno = e instanceof SysError ? e.errno : 0;
        if (errno === EAGAIN || errno === EINTR) return true;
        log.warn(`${device.debugLabel}: ${(e as Error).message}; no more events from it`);
        closed = true;
        return false;
      }
      if (n === 0) {
        log.info(`${device.debugLabel}: ${what} closed; the device stays idle`);
        closed = true;
        return false;
      }
      const before = stream.malformed;
      const events = stream.push(buf.subarray(0, n));
      if (stream.malformed > before)
        complaints.warn(
          "malformed record",
          `dropped ${stream.malformed - before} malformed event record(s) from ${what} (${stream.malformed} so far; ${stream.lastProblem})`,
        );
      device.pushEvents(events);
      return true;
    },
  };
}

/** A connected SOCK_STREAM socket carrying struct virtio_input_event records (the crosvm book's event source). */
export function socketSource(fd: number, device: VirtioInput): InputSource {
  return source(
    fd,
    device,
    new RecordStream(VIRTIO_INPUT_EVENT_SIZE, decodeVirtioEvent, device.config),
    "event source socket",
  );
}

/** A host evdev node: struct input_event records, always whole. */
export function evdevSource(fd: number, device: VirtioInput): InputSource {
  return source(
    fd,
    device,
    new RecordStream(HOST_INPUT_EVENT_SIZE, decodeHostEvent, device.config),
    "evdev device",
  );
}

/** Status events back over the socket, without blocking: a peer that does not read loses them. */
export function socketStatusSink(fd: number): StatusSink {
  const out = new Uint8Array(VIRTIO_INPUT_EVENT_SIZE);
  return {
    write: (e: InputEvent) => {
      send(fd, encodeVirtioEvent(e, out), MSG_DONTWAIT | MSG_NOSIGNAL, "event source socket");
    },
  };
}

/** Status events (LEDs) written to the host evdev node, as the host's own programs would. */
export function evdevStatusSink(fd: number): StatusSink {
  return { write: (e: InputEvent) => void write(fd, encodeHostEvent(e), "evdev device") };
}
