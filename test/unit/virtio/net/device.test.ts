// virtio-net on fake guest memory and fake TAP queues: configuration space, transmit checks, receive into one or
// several buffers, receive without buffers, and the control queue (MQ, guest offloads).
import { describe, expect, test } from "bun:test";
import { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN } from "../../../../ffi/tun.ts";
import { featureBit, VIRTIO_F_VERSION_1 } from "../../../../src/devices/virtio/constants.ts";
import {
  VIRTIO_NET_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_CTRL_MQ,
  VIRTIO_NET_ERR,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_OK,
} from "../../../../src/devices/virtio/net/constants.ts";
import { VirtioNet } from "../../../../src/devices/virtio/net/device.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { FakeTap, netPacket } from "../../../../src/devices/virtio/net/testing.ts";

const MAC = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);
const bit = featureBit;

/** A NIC with `pairs` fake TAP queues, the driver accepting `features` (default: everything offered). */
function nic(pairs = 1, o: { mac?: Uint8Array; features?: (offered: bigint) => bigint } = {}) {
  const taps = Array.from({ length: pairs }, () => new FakeTap());
  const net = new VirtioNet({ taps, ...(o.mac ? { mac: o.mac } : {}) });
  net.ackFeatures(o.features ? o.features(net.features()) : net.features());
  return { net, taps };
}

/** Activates `net` with one driver queue at `index` (each test drives one queue; each has its own memory). */
function activateWith(net: VirtioNet, index: number, size = 16) {
  const drv = new FakeDriverQueue(size);
  const irq = new FakeInterrupt();
  net.activate(drv.mem, irq, new Map([[index, drv.activate()]]));
  return { drv, irq };
}

function config(net: VirtioNet): DataView {
  const data = new Uint8Array(12);
  net.readConfig(0, data);
  return new DataView(data.buffer);
}

describe("features and configuration space (5.1.3, 5.1.4)", () => {
  test("the MAC given is in the configuration space and VIRTIO_NET_F_MAC is offered", () => {
    const { net } = nic(1, { mac: MAC });
    expect(new Uint8Array(config(net).buffer, 0, 6)).toEqual(MAC);
    expect(net.features() & bit(VIRTIO_NET_F_MAC)).not.toBe(0n);
  });

  test("without a MAC the feature is not offered (the guest picks its own address)", () => {
    expect(nic(1).net.features() & bit(VIRTIO_NET_F_MAC)).toBe(0n);
  });

  test("status says link up, max_virtqueue_pairs the pair count, mtu 1500", () => {
    const v = config(nic(2).net);
    expect([v.getUint16(6, true), v.getUint16(8, true), v.getUint16(10, true)]).toEqual([1, 2, 1500]);
  });

  test("two pairs have five queues (rx0, tx0, rx1, tx1, control) and offer MQ; one pair does not", () => {
    expect(nic(2).net.queueMaxSizes).toEqual([256, 256, 256, 256, 256]);
    expect(nic(2).net.features() & bit(VIRTIO_NET_F_MQ)).not.toBe(0n);
    expect(nic(1).net.features() & bit(VIRTIO_NET_F_MQ)).toBe(0n);
  });
});

describe("transmit", () => {
  test("a frame and its header go to the TAP queue as the guest wrote them, and the chain is used", () => {
    const { net, taps } = nic();
    const { drv, irq } = activateWith(net, 1);
    const packet = netPacket({}, 60);
    drv.addChain([{ data: packet.subarray(0, 12) }, { data: packet.subarray(12) }]);

    net.queueNotify(1);

    expect(taps[0]!.written).toEqual([packet]);
    expect([drv.usedIdx(), irq.usedQueueVectors.length, net.counters.txFrames]).toEqual([1, 1, 1]);
  });

  test("a frame with a receive-only header flag goes to the TAP with that flag cleared (5.1.6.2.2)", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 1);
    drv.addChain([{ data: netPacket({ flags: VIRTIO_NET_HDR_F_DATA_VALID }, 60) }]);

    net.queueNotify(1);

    expect(taps[0]!.written).toEqual([netPacket({}, 60)]);
  });

  test("a malformed frame is dropped and counted, and the next frame still goes out", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 1);
    drv.addChain([{ data: netPacket({ gsoType: 3, flags: 1, gsoSize: 100 }, 200) }]);
    drv.addChain([{ data: netPacket({}, 5) }]);
    drv.addChain([{ data: netPacket({}, 60) }]);

    net.queueNotify(1);

    expect([net.counters.txDropped, net.counters.txFrames, taps[0]!.written.length, drv.usedIdx()]).toEqual([
      2, 1, 1, 3,
    ]);
  });

  test("a chain whose readable bytes exceed a 64 KiB frame is dropped before anything is copied", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 1, 16);
    drv.addChain([{ len: 40000 }, { len: 40000 }]);

    net.queueNotify(1);

    expect([net.counters.txDropped, taps[0]!.written.length, drv.usedElem(0).len]).toEqual([1, 0, 0]);
  });

  test("a TAP that refuses a write costs that frame only", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 1);
    taps[0]!.failWrites = true;
    drv.addChain([{ data: netPacket({}, 60) }]);

    net.queueNotify(1);

    expect([net.counters.txDropped, drv.usedIdx()]).toEqual([1, 1]);
  });
});

describe("receive", () => {
  test("a frame fills one buffer with its header, num_buffers 1, and interrupts the guest", () => {
    const { net, taps } = nic();
    const { drv, irq } = activateWith(net, 0);
    const { addrs } = drv.addChain([{ len: 2048, writable: true }]);
    taps[0]!.incoming.push(netPacket({}, 100));

    net.rxReady(0);

    const got = drv.mem.read(addrs[0]!, 112);
    expect(got.subarray(12)).toEqual(netPacket({}, 100).subarray(12));
    expect(new DataView(got.buffer, got.byteOffset).getUint16(10, true)).toBe(1);
    expect([drv.usedElem(0).len, irq.usedQueueVectors.length, net.counters.rxFrames]).toEqual([112, 1, 1]);
  });

  test("with MRG_RXBUF a frame longer than one buffer spreads over several, num_buffers counting them", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 0);
    const first = drv.addChain([{ len: 1500, writable: true }]).addrs[0]!;
    drv.addChain([{ len: 1500, writable: true }]);
    drv.addChain([{ len: 1500, writable: true }]);
    taps[0]!.incoming.push(netPacket({}, 4000));

    net.rxReady(0);

    expect(drv.mem.readU16(first + 10)).toBe(3);
    expect([0, 1, 2].map((i) => drv.usedElem(i).len)).toEqual([1500, 1500, 1012]);
  });

  test("without receive buffers the frame waits, the TAP is not read further, and nothing is dropped", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 0);
    taps[0]!.incoming.push(netPacket({}, 100), netPacket({}, 200));

    net.rxReady(0);
    const readsWhileWaiting = taps[0]!.reads;
    const wanted = net.wantsRx(0);
    drv.addChain([{ len: 2048, writable: true }]);
    drv.addChain([{ len: 2048, writable: true }]);
    net.queueNotify(0);

    expect([readsWhileWaiting, wanted]).toEqual([1, false]);
    expect([drv.usedElem(0).len, drv.usedElem(1).len, net.counters.rxDropped]).toEqual([112, 212, 0]);
    expect(net.wantsRx(0)).toBe(true);
  });

  test("a frame spread over buffers that run out waits in the buffers it has, and finishes in new ones", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 0);
    drv.addChain([{ len: 1000, writable: true }]);
    taps[0]!.incoming.push(netPacket({}, 1500));

    net.rxReady(0);
    const usedBefore = drv.usedIdx();
    drv.addChain([{ len: 1000, writable: true }]);
    net.queueNotify(0);

    expect([usedBefore, drv.usedIdx(), drv.usedElem(0).len, drv.usedElem(1).len]).toEqual([0, 2, 1000, 512]);
  });

  test("without MRG_RXBUF a frame longer than its buffer is dropped and counted", () => {
    const { net, taps } = nic(1, { features: (f) => f & ~bit(VIRTIO_NET_F_MRG_RXBUF) });
    const { drv } = activateWith(net, 0);
    drv.addChain([{ len: 512, writable: true }]);
    drv.addChain([{ len: 2048, writable: true }]);
    taps[0]!.incoming.push(netPacket({}, 1000), netPacket({}, 60));

    net.rxReady(0);

    expect(net.counters.rxDropped).toBe(1);
    expect([drv.usedElem(0).len, drv.usedElem(1).len]).toEqual([0, 72]);
  });

  test("a receive chain with a device-readable buffer is returned unused and the frame goes to the next", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 0);
    drv.addChain([{ len: 64 }, { len: 2048, writable: true }]);
    drv.addChain([{ len: 2048, writable: true }]);
    taps[0]!.incoming.push(netPacket({}, 60));

    net.rxReady(0);

    expect([drv.usedElem(0).len, drv.usedElem(1).len, net.counters.rxFrames]).toEqual([0, 72, 1]);
  });

  test("a runt from the TAP is dropped and counted", () => {
    const { net, taps } = nic();
    const { drv } = activateWith(net, 0);
    drv.addChain([{ len: 2048, writable: true }]);
    taps[0]!.incoming.push(new Uint8Array(20));

    net.rxReady(0);

    expect([net.counters.rxDropped, drv.usedIdx()]).toEqual([1, 0]);
  });
});

describe("activation", () => {
  test("the TAP gets the receive offloads the guest accepted, and extra pairs start detached", () => {
    const { net, taps } = nic(2);
    activateWith(net, 0);

    expect(taps.map((t) => [t.offload, t.enabled])).toEqual([
      [TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, true],
      [TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, false],
    ]);
  });

  test("a guest that accepted no receive offloads gets none from the TAP", () => {
    const { net, taps } = nic(1, { features: () => bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_NET_F_CSUM) });
    activateWith(net, 0);

    expect(taps[0]!.offload).toBe(0);
  });
});

describe("control queue (5.1.6.5)", () => {
  /** Sends one command; returns the ack byte the device wrote. */
  function command(pairs: number, bytes: number[], features?: (f: bigint) => bigint) {
    const { net, taps } = nic(pairs, features ? { features } : {});
    const { drv } = activateWith(net, 2 * pairs);
    const { addrs } = drv.addChain([{ data: Uint8Array.from(bytes) }, { len: 1, writable: true }]);
    net.queueNotify(2 * pairs);
    return { ack: drv.mem.readU8(addrs[1]!), net, taps, used: drv.usedElem(0) };
  }

  test("VQ_PAIRS_SET 2 on a two-pair NIC attaches both TAP queues and answers OK", () => {
    const { ack, net, taps } = command(2, [VIRTIO_NET_CTRL_MQ, 0, 2, 0]);

    expect([ack, net.activePairs, taps.map((t) => t.enabled)]).toEqual([VIRTIO_NET_OK, 2, [true, true]]);
  });

  test("VQ_PAIRS_SET beyond max_virtqueue_pairs, or 0, is answered ERR and changes nothing", () => {
    const over = command(2, [VIRTIO_NET_CTRL_MQ, 0, 3, 0]);
    const zero = command(2, [VIRTIO_NET_CTRL_MQ, 0, 0, 0]);

    expect([over.ack, over.net.activePairs, zero.ack, zero.net.activePairs]).toEqual([
      VIRTIO_NET_ERR,
      1,
      VIRTIO_NET_ERR,
      1,
    ]);
  });

  test("VQ_PAIRS_SET without MQ negotiated is answered ERR", () => {
    const { ack } = command(2, [VIRTIO_NET_CTRL_MQ, 0, 2, 0], (f) => f & ~bit(VIRTIO_NET_F_MQ));

    expect(ack).toBe(VIRTIO_NET_ERR);
  });

  test("GUEST_OFFLOADS_SET to checksum only turns the TAP's segmentation off", () => {
    const offloads = bit(VIRTIO_NET_F_GUEST_CSUM);
    const le = [...new Uint8Array(new BigUint64Array([offloads]).buffer)];
    const { ack, taps } = command(1, [VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, ...le]);

    expect([ack, taps[0]!.offload]).toEqual([VIRTIO_NET_OK, TUN_F_CSUM]);
  });

  test("GUEST_OFFLOADS_SET with an offload that was not negotiated is answered ERR", () => {
    const offloads = bit(VIRTIO_NET_F_GUEST_TSO4);
    const le = [...new Uint8Array(new BigUint64Array([offloads]).buffer)];
    const { ack } = command(1, [VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, ...le], (f) => f & ~offloads);

    expect(ack).toBe(VIRTIO_NET_ERR);
  });

  test("GUEST_OFFLOADS_SET without CTRL_GUEST_OFFLOADS, a short command and an unknown class are ERR", () => {
    const noFeature = command(
      1,
      [VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      (f) => f & ~bit(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS),
    );
    const short = command(2, [VIRTIO_NET_CTRL_MQ, 0, 2]);
    const unknown = command(1, [0x7f, 0]);

    expect([noFeature.ack, short.ack, unknown.ack]).toEqual([VIRTIO_NET_ERR, VIRTIO_NET_ERR, VIRTIO_NET_ERR]);
    expect(unknown.used.len).toBe(1);
  });
});
