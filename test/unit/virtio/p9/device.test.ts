// The virtio-9p device model: its identity, feature and configuration space (include/uapi/linux/virtio_9p.h),
// and a 9P message served from a real virtqueue.
import { afterEach, describe, expect, test } from "bun:test";
import { VIRTIO_ID_9P, VirtioP9 } from "../../../../src/devices/virtio/p9/device.ts";
import { MSG } from "../../../../src/devices/virtio/p9/protocol.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { Msg, P9Harness } from "./p9_harness.ts";

let h: P9Harness | undefined;
afterEach(() => h?.cleanup());

describe("virtio-9p device", () => {
  test("device type 9 with one request queue of 128", () => {
    h = new P9Harness();

    const dev = new VirtioP9("tag", h.fs);

    expect([dev.deviceType, dev.queueMaxSizes]).toEqual([VIRTIO_ID_9P, [128]]);
  });

  test("it offers VIRTIO_9P_MOUNT_TAG (feature bit 0)", () => {
    h = new P9Harness();

    expect(new VirtioP9("tag", h.fs).features() & 1n).toBe(1n);
  });

  test("the configuration space is le16 tag_len followed by the tag", () => {
    h = new P9Harness();
    const dev = new VirtioP9("my_tag", h.fs);
    const config = new Uint8Array(8);

    dev.readConfig(0, config);

    expect([...config]).toEqual([6, 0, ...new TextEncoder().encode("my_tag")]);
  });

  test("a tag longer than 36 bytes is refused", () => {
    h = new P9Harness();

    expect(() => new VirtioP9("x".repeat(37), h!.fs)).toThrow("must be 1 to 36 bytes");
  });

  test("a Tversion on the queue is answered in its writable buffer with the used length", () => {
    h = new P9Harness();
    const dev = new VirtioP9("t", h.fs);
    const driver = new FakeDriverQueue(16);
    const queue = driver.activate();
    dev.activate(driver.mem, new FakeInterrupt(), new Map([[0, queue]]));
    const body = new Msg().u32(8192).str("9P2000.L").bytes();
    const msg = new Uint8Array(7 + body.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, msg.length, true);
    v.setUint8(4, MSG.TVERSION);
    v.setUint16(5, 0xffff, true);
    msg.set(body, 7);
    const chain = driver.addChain([{ data: msg }, { len: 64, writable: true }]);

    dev.queueNotify(0);

    expect(driver.usedElem(0)).toEqual({ id: chain.head, len: msg.length });
    expect(driver.mem.read(chain.addrs[1]!, 5)[4]).toBe(MSG.TVERSION + 1);
  });

  test("a reset ends the session: the next message before Tversion is refused", () => {
    h = new P9Harness();
    const dev = new VirtioP9("t", h.fs);
    dev.server.msize = 8192;

    dev.reset();

    expect(dev.server.msize).toBe(0);
  });
});
