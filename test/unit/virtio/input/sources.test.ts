// The input kind's VMM and device-process halves over a real UNIX socket: the VMM connects to the socket another
// program listens on, the device reads struct virtio_input_event records from it. A missing socket or a file that
// is not an event device is one line before the VM starts.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  accept4,
  AF_UNIX,
  bind,
  close,
  listen,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  socket,
  sockaddrUn,
  write,
} from "../../../../ffi/libc.ts";
import { EV_KEY, EV_SYN } from "../../../../src/devices/virtio/input/constants.ts";
import type { VirtioInput } from "../../../../src/devices/virtio/input/device.ts";
import { encodeVirtioEvent, type InputEvent } from "../../../../src/devices/virtio/input/events.ts";
import { inputKind, type InputKindOptions } from "../../../../src/devices/virtio/input/kind.ts";
import type { InputSource } from "../../../../src/devices/virtio/input/sources.ts";

const dir = mkdtempSync(join(tmpdir(), "crosvm-input-"));
const opened: number[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) close(fd);
});

/** A listening socket at a fresh path, as the program feeding the device would make. */
function listener(): { path: string; fd: number } {
  const path = join(dir, `s${opened.length}-${Math.random().toString(36).slice(2)}`);
  const fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, "test listener");
  opened.push(fd);
  bind(fd, sockaddrUn(path), path);
  listen(fd, 1);
  return { path, fd };
}

/** The VMM prepares a keyboard on `path`, the device process builds it; returns the device, source and peer. */
function keyboardOn(l: { path: string; fd: number }) {
  const options: InputKindOptions = { type: "keyboard", path: l.path, index: 0 };
  const { backing } = inputKind.prepare(options, 0);
  opened.push(...backing);
  const peer = accept4(l.fd, SOCK_CLOEXEC)!;
  opened.push(peer);
  const built = inputKind.build(options, backing);
  return { device: built.device as VirtioInput, source: built.pollSources![0] as InputSource, peer };
}

const record = (e: InputEvent) => encodeVirtioEvent(e);
const key: InputEvent = { type: EV_KEY, code: 30, value: 1 };
const syn: InputEvent = { type: EV_SYN, code: 0, value: 0 };

describe("a socket event source", () => {
  test("whole records become pending events in order", () => {
    const { device, source, peer } = keyboardOn(listener());
    write(peer, new Uint8Array([...record(key), ...record(syn)]));
    source.onReadable();
    expect(device.pendingEvents).toBe(2);
  });

  test("half a record waits for its other half", () => {
    const { device, source, peer } = keyboardOn(listener());
    const bytes = record(key);
    write(peer, bytes.subarray(0, 3));
    source.onReadable();
    const before = device.pendingEvents;
    write(peer, bytes.subarray(3));
    source.onReadable();
    expect([before, device.pendingEvents]).toEqual([0, 1]);
  });

  test("a malformed record is dropped and counted", () => {
    const { device, source, peer } = keyboardOn(listener());
    write(peer, new Uint8Array([...record({ type: 0x33, code: 1, value: 1 }), ...record(key)]));
    source.onReadable();
    expect([device.pendingEvents, source.stream.malformed]).toEqual([1, 1]);
  });

  test("a closed socket ends the source and leaves the device idle", () => {
    const { device, source, peer } = keyboardOn(listener());
    opened.splice(opened.indexOf(peer), 1);
    close(peer);
    expect([source.onReadable(), source.closed, device.pendingEvents]).toEqual([false, true, 0]);
  });

  test("nothing to read (EAGAIN) keeps the source", () => {
    const { source } = keyboardOn(listener());
    expect([source.onReadable(), source.closed]).toEqual([true, false]);
  });
});

describe("bad sources are one line in the VMM", () => {
  test("a socket nobody listens on", () => {
    const path = join(dir, "nobody");
    expect(() => inputKind.prepare({ type: "mouse", path, index: 0 }, 0)).toThrow(
      `--input mouse[path=${path}]: cannot connect to the event source socket: connect on ${path} failed: ENOENT`,
    );
  });

  test("an evdev path that is not an input event device", () => {
    expect(() => inputKind.prepare({ type: "evdev", path: "/dev/null", index: 0 }, 0)).toThrow(
      "--input evdev[path=/dev/null]: not an input event device (EVIOCGVERSION: ENOTTY)",
    );
  });

  test("an evdev path that does not exist", () => {
    expect(() => inputKind.prepare({ type: "evdev", path: "/dev/input/event999", index: 0 }, 0)).toThrow(
      "--input evdev[path=/dev/input/event999]: cannot open the evdev device",
    );
  });
});
