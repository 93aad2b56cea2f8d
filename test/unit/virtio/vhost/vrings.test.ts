// The vhost core (src/devices/virtio/vhost/vrings.ts): what the kernel is told when the driver activates a device
// whose rings it serves, against a recording vhost fd and fake guest memory.
import { describe, expect, test } from "bun:test";
import { featureBit, VIRTIO_F_VERSION_1 } from "../../../../src/devices/virtio/constants.ts";
import { memoryRegions, VhostRingError, VhostRings } from "../../../../src/devices/virtio/vhost/vrings.ts";
import {
  ERROR_FD,
  EVENTS,
  queueAt,
  RecordingVhost,
  twoRegionMemory,
  VIRTIO_MSI_NO_VECTOR,
  vsockQueues,
} from "../vsock/helpers.ts";

const FEATURES = featureBit(VIRTIO_F_VERSION_1);

describe("VhostRings.start", () => {
  test("sets features, then the memory table, then each vring's num, addr, base, call, kick and err", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

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

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

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

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, restored);

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

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

    expect(vhost.calls.filter((c) => c[0] === "setVringKick" || c[0] === "setVringCall")).toEqual([
      ["setVringCall", 0, EVENTS.irqfds[3]],
      ["setVringKick", 0, EVENTS.queueEvents[0]],
      ["setVringCall", 1, EVENTS.irqfds[1]],
      ["setVringKick", 1, EVENTS.queueEvents[1]],
    ]);
  });

  test("a queue with VIRTIO_MSI_NO_VECTOR gets no call eventfd (-1)", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(1)!.vector = VIRTIO_MSI_NO_VECTOR;

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

    expect(vhost.calls.find((c) => c[0] === "setVringCall" && c[1] === 1)).toEqual(["setVringCall", 1, -1]);
  });

  test("a queue with VIRTIO_MSI_NO_VECTOR gets its vring's relay eventfd as call when there is one", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(1)!.vector = VIRTIO_MSI_NO_VECTOR;

    new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD, [80, 81]).start(mem, FEATURES, queues);

    expect(vhost.calls.filter((c) => c[0] === "setVringCall")).toEqual([
      ["setVringCall", 0, EVENTS.irqfds[0]],
      ["setVringCall", 1, 81],
    ]);
  });

  test("a vector the device does not have is refused before any ioctl", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.get(1)!.vector = 9;

    const start = () => new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

    expect(start).toThrow(VhostRingError);
    expect(vhost.calls).toEqual([]);
  });

  test("a queue the driver did not enable is refused before any ioctl", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();
    queues.delete(1);

    const start = () => new VhostRings(vhost, [0, 1], EVENTS, ERROR_FD).start(mem, FEATURES, queues);

    expect(start).toThrow("queue 1 was not enabled");
    expect(vhost.calls).toEqual([]);
  });

  test("without an error eventfd no VHOST_SET_VRING_ERR is made", () => {
    const vhost = new RecordingVhost();
    const { mem, queues } = vsockQueues();

    new VhostRings(vhost, [0, 1], EVENTS, -1).start(mem, FEATURES, queues);

    expect(vhost.names()).not.toContain("setVringErr");
  });
});
