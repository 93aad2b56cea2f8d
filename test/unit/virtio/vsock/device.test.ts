// virtio-vsock (virtio 1.2 section 5.10) on a recording vhost-vsock fd: configuration space, features, and the
// kernel's rings through activation, reset, re-activation and sleep/wake; the event queue's transport reset.
import { afterEach, describe, expect, test } from "bun:test";
import { eventfdWrite } from "../../../../ffi/libc.ts";
import {
  featureBit,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_VSOCK,
  VIRTIO_RING_F_EVENT_IDX,
} from "../../../../src/devices/virtio/constants.ts";
import { FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { VHOST_F_LOG_ALL } from "../../../../ffi/vhost.ts";
import {
  VIRTIO_VSOCK_F_SEQPACKET,
  VirtioVsock,
  VSOCK_CONFIG_SIZE,
  VSOCK_EVENT_QUEUE,
} from "../../../../src/devices/virtio/vsock/device.ts";
import {
  closeRelays,
  ERROR_FD,
  EVENTS,
  makeRelay,
  RecordingVhost,
  VIRTIO_MSI_NO_VECTOR,
  vsockQueues,
} from "./helpers.ts";

afterEach(closeRelays);

const KERNEL_FEATURES =
  featureBit(VIRTIO_F_VERSION_1) |
  featureBit(VIRTIO_RING_F_EVENT_IDX) |
  featureBit(VIRTIO_VSOCK_F_SEQPACKET) |
  featureBit(VHOST_F_LOG_ALL);

function vsock(cid = 3) {
  const vhost = new RecordingVhost();
  const device = new VirtioVsock({
    cid,
    vhost,
    kernelFeatures: KERNEL_FEATURES,
    events: EVENTS,
    errorFd: ERROR_FD,
    makeEventFd: makeRelay,
  });
  return { vhost, device };
}

/** Activated with rx 0 and tx 1 on `vectors` (MSI-X vectors 0 and 1 by default; VIRTIO_MSI_NO_VECTOR: INTx). */
function activated(cid = 3, vectors = [0, 1]) {
  const { vhost, device } = vsock(cid);
  const { mem, event, queues } = vsockQueues();
  vectors.forEach((v, i) => (queues.get(i)!.vector = v));
  const interrupt = new FakeInterrupt();
  device.ackFeatures(device.features());
  device.activate(mem, interrupt, queues);
  return { vhost, device, event, interrupt, mem, queues };
}

describe("virtio-vsock device", () => {
  test("is device type 19 with three queues", () => {
    const { device } = vsock();

    expect([device.deviceType, device.queueMaxSizes.length]).toEqual([VIRTIO_ID_VSOCK, 3]);
  });

  test("guest_cid is a little-endian u64 at offset 0 of the configuration space (5.10.4)", () => {
    const { device } = vsock(0xfffffffe);
    const data = new Uint8Array(VSOCK_CONFIG_SIZE);

    device.readConfig(0, data);

    expect(new DataView(data.buffer).getBigUint64(0, true)).toBe(0xfffffffen);
  });

  test("a read past guest_cid gives zeros", () => {
    const { device } = vsock(7);
    const data = new Uint8Array(4).fill(0xff);

    device.readConfig(8, data);

    expect([...data]).toEqual([0, 0, 0, 0]);
  });

  test("offers the kernel's features except the dirty log (VHOST_F_LOG_ALL)", () => {
    const { device } = vsock();

    expect(device.features()).toBe(KERNEL_FEATURES & ~featureBit(VHOST_F_LOG_ALL));
  });

  test("activation gives the kernel the accepted features and rx/tx, then sets it running", () => {
    const { vhost, device } = activated();

    expect(vhost.calls[0]).toEqual(["setFeatures", device.features()]);
    expect(vhost.calls.at(-1)).toEqual(["vsockSetRunning", true]);
    expect(vhost.calls.filter((c) => c[0] === "setVringNum").map((c) => c[1])).toEqual([0, 1]);
  });

  test("a refused ioctl refuses the activation and leaves the kernel stopped", () => {
    const { vhost, device } = vsock();
    vhost.failOn = "setMemTable";
    const { mem, queues } = vsockQueues();

    expect(() => device.activate(mem, new FakeInterrupt(), queues)).toThrow("setMemTable");
    expect([device.running, vhost.names()]).toEqual([false, ["setFeatures", "setMemTable"]]);
  });

  test("reset stops the kernel's rings", () => {
    const { vhost, device } = activated();

    device.reset();

    expect([device.running, vhost.calls.at(-1)]).toEqual([false, ["vsockSetRunning", false]]);
  });

  test("re-activation after a reset hands the kernel the new rings from index 0", () => {
    const { vhost, device } = activated();
    device.reset();
    vhost.calls.length = 0;
    const { mem, queues } = vsockQueues();

    device.activate(mem, new FakeInterrupt(), queues);

    expect(vhost.calls.filter((c) => c[0] === "setVringBase")).toEqual([
      ["setVringBase", 0, 0],
      ["setVringBase", 1, 0],
    ]);
    expect(device.running).toBe(true);
  });

  test("sleep stops and wake restarts the kernel's rings without handing them over again", () => {
    const { vhost, device } = activated();
    vhost.calls.length = 0;

    device.sleep();
    const asleep = device.running;
    device.wake();

    expect([asleep, device.running, vhost.calls]).toEqual([
      false,
      true,
      [
        ["vsockSetRunning", false],
        ["vsockSetRunning", true],
      ],
    ]);
  });

  test("a reset that the kernel refuses to stop still resets the device", () => {
    const { vhost, device } = activated();
    vhost.failOn = "vsockSetRunning";

    device.reset();

    expect(device.lifecycle).toBe("reset");
  });

  test("a notification of the event queue keeps its buffers for events", () => {
    const { device, event } = activated();
    event.addChain([{ len: 4, writable: true }]);

    device.queueNotify(VSOCK_EVENT_QUEUE);

    expect(event.usedIdx()).toBe(0);
  });

  test("a transport reset fills one event buffer with id 0 and interrupts on the event queue's vector", () => {
    const { device, event, interrupt, mem } = activated();
    const { addrs } = event.addChain([{ data: new Uint8Array([9, 9, 9, 9]), writable: true }]);
    event.addChain([{ len: 4, writable: true }]);

    const sent = device.sendTransportReset();

    expect([sent, event.usedIdx(), event.usedElem(0).len, mem.readU32(addrs[0]!)]).toEqual([true, 1, 4, 0]);
    expect(interrupt.usedQueueVectors).toEqual([2]);
  });

  test("a transport reset with no event buffer sends nothing", () => {
    const { device, interrupt } = activated();

    expect([device.sendTransportReset(), interrupt.usedQueueVectors]).toEqual([false, []]);
  });

  test("an INTx driver's rx and tx (no MSI-X vector) get the device's call relays as their vrings' calls", () => {
    const { vhost, device } = activated(3, [VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_NO_VECTOR]);

    const calls = vhost.calls.filter((c) => c[0] === "setVringCall");

    expect(calls).toEqual(device.relaySources().map((s, vring) => ["setVringCall", vring, s.fd]));
    expect(calls.every((c) => typeof c[2] === "number" && c[2] >= 0)).toBe(true);
  });

  test("a call the kernel makes on tx's relay is the used-buffer notification of tx (INTx: the ISR bit)", () => {
    const { device, interrupt } = activated(3, [VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_NO_VECTOR]);
    const [, tx] = device.relaySources();
    eventfdWrite(tx!.fd);

    tx!.onReadable();

    expect(interrupt.usedQueueVectors).toEqual([VIRTIO_MSI_NO_VECTOR]);
  });

  test("a call relayed while asleep still reaches the driver (the buffers were used before the kernel stopped)", () => {
    const { device, interrupt } = activated(3, [VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_NO_VECTOR]);
    const [rx] = device.relaySources();
    device.sleep();
    eventfdWrite(rx!.fd);

    rx!.onReadable();

    expect(interrupt.usedQueueVectors).toEqual([VIRTIO_MSI_NO_VECTOR]);
  });

  test("a call relayed after a reset raises nothing", () => {
    const { device, interrupt } = activated(3, [VIRTIO_MSI_NO_VECTOR, VIRTIO_MSI_NO_VECTOR]);
    const [rx] = device.relaySources();
    device.reset();
    eventfdWrite(rx!.fd);

    rx!.onReadable();

    expect(interrupt.usedQueueVectors).toEqual([]);
  });

  test("the kernel's ring error asks the driver for a reset", () => {
    const { device, interrupt } = activated();

    device.kernelRingError();

    expect(interrupt.needsReset).toEqual(["vhost-vsock could not access a vring"]);
  });
});
