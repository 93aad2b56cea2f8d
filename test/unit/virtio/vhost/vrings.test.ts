// The vhost core (src/devices/virtio/vhost/vrings.ts): what the kernel is told when the driver activates a device
// whose rings it serves, against a recording vhost fd and fake guest memory.
import { afterEach, describe, expect, test } from "bun:test";
import { eventfdWrite } from "../../../../ffi/libc.ts";
import { featureBit, VIRTIO_F_VERSION_1 } from "../../../../src/devices/virtio/constants.ts";
import { memoryRegions, VhostRingError, VhostRings } from "../../../../src/devices/virtio/vhost/vrings.ts";
import {
  closeRelays,
  ERROR_FD,
  EVENTS,
  makeRelay,
  queueAt,
  RecordingVhost,
  twoRegionMemory,
  VIRTIO_MSI_NO_VECTOR,
  vsockQueues,
} from "../vsock/helpers.ts";

const FEATURES = featureBit(VIRTIO_F_VERSION_1);

afterEach(closeRelays);

describe("VhostRings.start", () => {
  test("sets features, then the memory table, then each vring's num, addr, base, call, kick and err", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, queues);

    const perRing = [
      "setVringNum",
      "setVringAddr",
      "setVringBase",
      "setVringCall",
      "setVringKick",
      "setVringErr",
    ];
    expect(vhost.names()).toEqual(["setFeatures", "setMemTable", ...perRing, ...perRing]);
  });

  test("the memory table lists every RAM region at its guest address with this process's mapping", () => {
    const mem = twoRegionMemory();

    const regions = memoryRegions(mem);

    expect(regions).toEqual(
      mem.regions.map((r) => ({ guestAddr: r.guestAddr, size: r.size, hostAddr: r.hostAddr })),
    );
    expect(regions.map((r) => r.guestAddr)).toEqual([0, 0x1_0000_0000]);
  });

  test("ring addresses are the host addresses of the driver's desc, avail and used rings", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, queues);

    const addr = vhost.calls.find((c) => c[0] === "setVringAddr" && c[1] === 1)!;
    expect(addr[2]).toEqual({
      desc: mem.hostAddress(0xa0000, 1),
      avail: mem.hostAddress(0xa1000, 1),
      used: mem.hostAddress(0xa2000, 1),
    });
  });

  test("vring i gets the size and next available index of the queue behind it", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    const rx = queueAt(mem, 0x80000, 0, 32);
    const restored = new Map([...queues, [0, rx]]);

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, restored);

    expect(vhost.calls.filter((c) => c[0] === "setVringNum")).toEqual([
      ["setVringNum", 0, 32],
      ["setVringNum", 1, 64],
    ]);
    expect(vhost.calls.filter((c) => c[0] === "setVringBase")).toEqual([
      ["setVringBase", 0, 0],
      ["setVringBase", 1, 0],
    ]);
  });

  test("kick is the queue's ioeventfd and call the irqfd of the queue's MSI-X vector", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(0)!.vector = 3;

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, queues);

    expect(vhost.calls.filter((c) => c[0] === "setVringKick" || c[0] === "setVringCall")).toEqual([
      ["setVringCall", 0, EVENTS.irqfds[3]],
      ["setVringKick", 0, EVENTS.queueEvents[0]],
      ["setVringCall", 1, EVENTS.irqfds[1]],
      ["setVringKick", 1, EVENTS.queueEvents[1]],
    ]);
  });

  test("a queue with VIRTIO_MSI_NO_VECTOR gets its vring's call relay as call", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(1)!.vector = VIRTIO_MSI_NO_VECTOR;
    const rings = new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay);

    rings.start(mem, FEATURES, queues);

    expect(vhost.calls.filter((c) => c[0] === "setVringCall")).toEqual([
      ["setVringCall", 0, EVENTS.irqfds[0]],
      ["setVringCall", 1, rings.relayFds[1]],
    ]);
  });

  test("an INTx driver's queues (no vector at all) each get their own relay", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    for (const i of [0, 1]) queues.get(i)!.vector = VIRTIO_MSI_NO_VECTOR;
    const rings = new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay);

    rings.start(mem, FEATURES, queues);

    const calls = vhost.calls.filter((c) => c[0] === "setVringCall").map((c) => c[2]);
    expect(calls).toEqual([...rings.relayFds]);
    expect(new Set(calls).size).toBe(2);
  });

  test("without an error eventfd no VHOST_SET_VRING_ERR is made", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();

    new VhostRings(vhost, [0, 1], EVENTS, -1, makeRelay).start(mem, FEATURES, queues);

    expect(vhost.names()).not.toContain("setVringErr");
  });
});

describe("VhostRings call relays", () => {
  test("one relay eventfd is made per vring, when the rings are made", () => {
    const made: number[] = [];

    const rings = new VhostRings(new RecordingVhost(), [2, 3], EVENTS, ERROR_FD, () => {
      made.push(makeRelay());
      return made.at(-1)!;
    });

    expect(rings.relayFds).toEqual(made);
    expect(made.length).toBe(2);
  });

  test("a relay the kernel signalled calls back once with the device queue behind its vring", () => {
    const rings = new VhostRings(new RecordingVhost(), [2, 3], EVENTS, ERROR_FD, makeRelay);
    const called: number[] = [];
    const sources = rings.relaySources((queue) => called.push(queue));
    eventfdWrite(rings.relayFds[1]!, 2n);

    sources[1]!.onReadable();
    sources[1]!.onReadable();

    expect(called).toEqual([3]);
  });

  test("the relay sources poll the relay eventfds, in vring order", () => {
    const rings = new VhostRings(new RecordingVhost(), [0, 1], EVENTS, ERROR_FD, makeRelay);

    const fds = rings.relaySources(() => {}).map((s) => s.fd);

    expect(fds).toEqual([...rings.relayFds]);
  });
});

describe("VhostRings.start refusals", () => {
  test("a vector the device does not have is refused before any ioctl", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(1)!.vector = 9;

    const start = () =>
      new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, queues);

    expect(start).toThrow(VhostRingError);
    expect(vhost.calls).toEqual([]);
  });

  test("a queue the driver did not enable is refused before any ioctl", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.delete(1);

    const start = () =>
      new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, makeRelay).start(mem, FEATURES, queues);

    expect(start).toThrow("queue 1 was not enabled");
    expect(vhost.calls).toEqual([]);
  });
});
