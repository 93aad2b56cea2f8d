// virtio-net on vhost-net (src/devices/virtio/net/vhost_net.ts): what the kernel is told per queue pair, against
// recording vhost-net fds and fake guest memory; the control queue stays with the device.
import { afterEach, describe, expect, test } from "bun:test";
import {
  featureBit,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
} from "../../../../src/devices/virtio/constants.ts";
import { VIRTIO_NET_F_CSUM, VIRTIO_NET_F_MRG_RXBUF } from "../../../../src/devices/virtio/net/constants.ts";
import { VirtioNet } from "../../../../src/devices/virtio/net/device.ts";
import {
  VhostNetBackend,
  vhostNetHeaderSize,
  type VhostNetIoctls,
  vhostNetKernelQueues,
} from "../../../../src/devices/virtio/net/vhost_net.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import {
  close,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  eventfd,
  eventfdConsume,
  eventfdWrite,
} from "../../../../ffi/libc.ts";
import { closeRelays, makeRelay, queueAt, RecordingVhost, twoRegionMemory } from "../vsock/helpers.ts";
import { FakeTap, netPacket } from "../../../../src/devices/virtio/net/testing.ts";
import { VIRTIO_MSI_NO_VECTOR } from "../../../../src/devices/virtio/constants.ts";

class RecordingVhostNet extends RecordingVhost implements VhostNetIoctls {
  /** netSetBackend with this fd throws, as the kernel refusing it would (EFAULT). */
  failBackendFd: number | undefined;

  netSetBackend(index: number, fd: number): void {
    this.calls.push(["netSetBackend", index, fd]);
    if (fd === this.failBackendFd) throw new Error(`VHOST_NET_SET_BACKEND ${index} ${fd}: EFAULT`);
  }
}

const KERNEL =
  featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_RING_F_EVENT_IDX) | featureBit(VIRTIO_NET_F_MRG_RXBUF);
const TAP_FDS = [70, 71];
const EVENTS = { queueEvents: [40, 41, 42, 43, 44], irqfds: [50, 51, 52, 53, 54, 55] };

afterEach(closeRelays);

/** A NIC with `pairs` pairs on recording vhost-net fds, activated with every queue (vectors = queue index). */
function vhostNic(pairs: number) {
  const vhosts = Array.from({ length: pairs }, () => new RecordingVhostNet());
  const backend = new VhostNetBackend(vhosts, TAP_FDS.slice(0, pairs), KERNEL, EVENTS, 60, makeRelay);
  const taps = Array.from({ length: pairs }, () => new FakeTap());
  const net = new VirtioNet({ taps, vhost: backend });
  const mem = twoRegionMemory();
  const queues = new Map(
    Array.from({ length: 2 * pairs + 1 }, (_, i) => [i, queueAt(mem, 0x20000 + i * 0x10000, i)] as const),
  );
  return { vhosts, net, mem, queues, taps };
}

function activate(n: ReturnType<typeof vhostNic>) {
  n.net.ackFeatures(n.net.features());
  n.net.activate(n.mem, new FakeInterrupt(), n.queues);
}

/**
 * A one-pair NIC whose queues' ioeventfds are real eventfds, with queue `driven` (0 rx, 1 tx) a fake driver's queue
 * and the others at fixed addresses in its memory; activated with every queue.
 */
function kickableNic(driven: 0 | 1) {
  const kicks = [0, 1, 2].map(() => eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  const driver = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, twoRegionMemory());
  const backend = new VhostNetBackend(
    [new RecordingVhostNet()],
    [70],
    KERNEL,
    { queueEvents: kicks, irqfds: [50, 51, 52] },
    60,
    makeRelay,
  );
  const tap = new FakeTap();
  const net = new VirtioNet({ taps: [tap], vhost: backend });
  const other = queueAt(driver.mem, 0x80000, 1 - driven);
  const queues = new Map([
    [driven, driver.activate()],
    [1 - driven, other],
    [2, queueAt(driver.mem, 0xa0000, 2)],
  ]);
  net.ackFeatures(net.features());
  net.activate(driver.mem, new FakeInterrupt(), queues);
  return { kicks, driver, tap, net, done: () => kicks.forEach(close) };
}

describe("virtio-net on vhost-net", () => {
  test("a tx notification that reaches the device is passed to the kernel as a kick of the tx vring, and the device sends nothing itself", () => {
    const n = kickableNic(1);
    try {
      n.driver.addChain([{ data: netPacket({}, 60) }]);

      n.net.queueNotify(1);

      expect(n.kicks.map((fd) => eventfdConsume(fd))).toEqual([false, true, false]);
      expect(n.tap.written).toEqual([]);
      expect(n.driver.usedIdx()).toBe(0);
    } finally {
      n.done();
    }
  });

  test("an rx notification that reaches the device is passed to the kernel as a kick of the rx vring, and the device reads no frame from the TAP", () => {
    const n = kickableNic(0);
    try {
      n.tap.incoming.push(netPacket({}, 60));
      n.driver.addChain([{ len: 2048, writable: true }]);

      n.net.queueNotify(0);

      expect(n.kicks.map((fd) => eventfdConsume(fd))).toEqual([true, false, false]);
      expect(n.tap.reads).toBe(0);
      expect(n.driver.usedIdx()).toBe(0);
    } finally {
      n.done();
    }
  });

  test("a kernel queue without an MSI-X vector gets its call relay as the vring's call", () => {
    const n = vhostNic(2);
    n.queues.get(3)!.vector = VIRTIO_MSI_NO_VECTOR;

    activate(n);

    const relays = n.net.relaySources().map((s) => s.fd);
    expect(n.vhosts[1]!.calls.filter((c) => c[0] === "setVringCall")).toEqual([
      ["setVringCall", 0, EVENTS.irqfds[2]],
      ["setVringCall", 1, relays[3]],
    ]);
  });

  test("every kernel queue of every pair has a relay of its own (rx and tx of each pair, not the control queue)", () => {
    const n = vhostNic(2);

    const relays = n.net.relaySources().map((s) => s.fd);

    expect([relays.length, new Set(relays).size]).toEqual([4, 4]);
  });

  test("a call on pair 1's tx relay is the used-buffer notification of queue 3 (INTx without MSI-X)", () => {
    const n = vhostNic(2);
    // Only queue 3 is on INTx: a relay mapped to another queue would signal that queue's vector instead.
    n.queues.get(3)!.vector = VIRTIO_MSI_NO_VECTOR;
    const interrupt = new FakeInterrupt();
    n.net.ackFeatures(n.net.features());
    n.net.activate(n.mem, interrupt, n.queues);
    const tx1 = n.net.relaySources()[3]!;
    eventfdWrite(tx1.fd);

    tx1.onReadable();

    expect(interrupt.usedQueueVectors).toEqual([VIRTIO_MSI_NO_VECTOR]);
  });

  test("vhost-net's header length is 12 bytes with VERSION_1 or MRG_RXBUF and 10 without either, as the kernel computes it", () => {
    const sizes = [
      featureBit(VIRTIO_F_VERSION_1),
      featureBit(VIRTIO_NET_F_MRG_RXBUF),
      featureBit(VIRTIO_RING_F_EVENT_IDX),
    ].map(vhostNetHeaderSize);

    expect(sizes).toEqual([12, 12, 10]);
  });

  test("a start whose features would give the kernel a 10-byte header is refused before any ioctl (the TAP has 12)", () => {
    const vhost = new RecordingVhostNet();
    const backend = new VhostNetBackend([vhost], [70], KERNEL, EVENTS, 60, makeRelay);
    const mem = twoRegionMemory();
    const queues = new Map([0, 1].map((i) => [i, queueAt(mem, 0x20000 + i * 0x10000, i)] as const));

    const start = () => backend.start(mem, featureBit(VIRTIO_RING_F_EVENT_IDX), queues);

    expect(start).toThrow("10-byte virtio-net header");
    expect(vhost.calls).toEqual([]);
  });

  test("the kernel serves rx and tx of every pair; the control queue (last) stays with the device", () => {
    expect(vhostNetKernelQueues(2)).toEqual([0, 1, 2, 3]);
  });

  test("ring features the kernel lacks are not offered; the device's offloads still are", () => {
    const { net } = vhostNic(1);

    expect(net.features() & featureBit(VIRTIO_NET_F_CSUM)).not.toBe(0n);
    expect(net.features() & featureBit(VIRTIO_RING_F_EVENT_IDX)).not.toBe(0n);
    expect(net.features() & featureBit(28 /* VIRTIO_F_INDIRECT_DESC */)).toBe(0n);
  });

  test("activation tells each pair's vhost-net only the ring features, then attaches the pair's TAP to both vrings", () => {
    const n = vhostNic(2);

    activate(n);

    for (const [i, vhost] of n.vhosts.entries()) {
      expect(vhost.calls[0]).toEqual(["setFeatures", n.net.ackedFeatures & KERNEL]);
      expect(vhost.calls.slice(-2)).toEqual([
        ["netSetBackend", 0, TAP_FDS[i]],
        ["netSetBackend", 1, TAP_FDS[i]],
      ]);
    }
  });

  test("pair i's vrings are queues 2i (rx) and 2i+1 (tx), kicked by their ioeventfds", () => {
    const n = vhostNic(2);

    activate(n);

    expect(n.vhosts[1]!.calls.filter((c) => c[0] === "setVringKick")).toEqual([
      ["setVringKick", 0, EVENTS.queueEvents[2]],
      ["setVringKick", 1, EVENTS.queueEvents[3]],
    ]);
  });

  test("reset detaches the TAP from every vring", () => {
    const n = vhostNic(1);
    activate(n);

    n.net.reset();

    expect(n.vhosts[0]!.calls.slice(-2)).toEqual([
      ["netSetBackend", 0, -1],
      ["netSetBackend", 1, -1],
    ]);
  });

  test("a reset after an activation that failed halfway through attaching detaches the vrings already attached", () => {
    const n = vhostNic(2);
    n.vhosts[1]!.failBackendFd = TAP_FDS[1];
    n.net.ackFeatures(n.net.features());
    expect(() => n.net.activate(n.mem, new FakeInterrupt(), n.queues)).toThrow("VHOST_NET_SET_BACKEND");
    n.vhosts[0]!.calls.length = 0;

    n.net.reset();

    expect(n.vhosts[0]!.calls).toEqual([
      ["netSetBackend", 0, -1],
      ["netSetBackend", 1, -1],
    ]);
  });

  test("a vring that refuses to detach does not keep the other pairs' vrings attached", () => {
    const n = vhostNic(2);
    activate(n);
    n.vhosts[0]!.failBackendFd = -1;
    n.vhosts[1]!.calls.length = 0;

    n.net.reset();

    expect(n.vhosts[1]!.calls).toEqual([
      ["netSetBackend", 0, -1],
      ["netSetBackend", 1, -1],
    ]);
  });

  test("sleep detaches and wake attaches the TAP again, without handing the rings over again", () => {
    const n = vhostNic(1);
    activate(n);
    n.vhosts[0]!.calls.length = 0;

    n.net.sleep();
    n.net.wake();

    expect(n.vhosts[0]!.calls).toEqual([
      ["netSetBackend", 0, -1],
      ["netSetBackend", 1, -1],
      ["netSetBackend", 0, TAP_FDS[0]],
      ["netSetBackend", 1, TAP_FDS[0]],
    ]);
  });

  test("the device never polls its TAP queues: the kernel reads them", () => {
    const n = vhostNic(1);
    activate(n);

    expect(n.net.wantsRx(0)).toBe(false);
  });

  test("the device still sets the TAP's offloads from the features the guest accepted", () => {
    const n = vhostNic(1);

    activate(n);

    expect(n.taps[0]!.offload).toBeDefined();
  });
});
