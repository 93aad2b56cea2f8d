// The virtio-fs device model: its identity and configuration space (virtio 1.2 section 5.11), and a FUSE request
// served from a real virtqueue.
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FS_CONFIG_SIZE, VIRTIO_ID_FS, VirtioFs } from "../../../../src/devices/virtio/fs/device.ts";
import {
  ATTR,
  ENTRY_ATTR_OFFSET,
  IN_HEADER,
  OP,
  OUT_HEADER,
} from "../../../../src/devices/virtio/fs/layout.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";
import { FuseHarness, names } from "./fuse_harness.ts";

let h: FuseHarness | undefined;
afterEach(() => h?.cleanup());

describe("virtio-fs device", () => {
  test("device type 26 with a hiprio and one request queue of 1024", () => {
    h = new FuseHarness();
    const dev = new VirtioFs("tag", h.ctx);
    expect([dev.deviceType, dev.queueMaxSizes]).toEqual([VIRTIO_ID_FS, [1024, 1024]]);
  });

  test("the configuration space holds the tag (NUL-padded to 36 bytes) and num_request_queues = 1", () => {
    h = new FuseHarness();
    const dev = new VirtioFs("my_shared_tag", h.ctx);
    const config = new Uint8Array(FS_CONFIG_SIZE);
    dev.readConfig(0, config);
    expect(new TextDecoder().decode(config.subarray(0, 13))).toBe("my_shared_tag");
    expect([...config.subarray(13, 36)].every((b) => b === 0)).toBe(true);
    expect(new DataView(config.buffer).getUint32(36, true)).toBe(1);
  });

  test("a tag longer than 36 bytes is refused", () => {
    h = new FuseHarness();
    expect(() => new VirtioFs("x".repeat(37), h!.ctx)).toThrow("must be 1 to 36 bytes");
  });

  test("a LOOKUP on the request queue is answered in its writable buffers and the used length", () => {
    h = new FuseHarness();
    h.init();
    writeFileSync(join(h.root, "f"), "abc");
    const dev = new VirtioFs("t", h.ctx);
    const driver = new FakeDriverQueue(16);
    const queue = driver.activate();
    const interrupt = new FakeInterrupt();
    dev.activate(driver.mem, interrupt, new Map([[1, queue]]));
    const args = names("f");
    const req = new Uint8Array(IN_HEADER.size + args.length);
    const v = new DataView(req.buffer);
    v.setUint32(IN_HEADER.at.len, req.length, true);
    v.setUint32(IN_HEADER.at.opcode, OP.LOOKUP, true);
    v.setBigUint64(IN_HEADER.at.unique, 77n, true);
    v.setBigUint64(IN_HEADER.at.nodeid, 1n, true);
    req.set(args, IN_HEADER.size);
    const chain = driver.addChain([
      { data: req },
      { len: OUT_HEADER.size, writable: true },
      { len: 128, writable: true },
    ]);

    dev.queueNotify(1);

    expect(driver.usedIdx()).toBe(1);
    expect(driver.usedElem(0)).toEqual({ id: chain.head, len: OUT_HEADER.size + 128 });
    const body = driver.mem.read(chain.addrs[2]!, 128);
    expect(new DataView(body.buffer).getBigUint64(ENTRY_ATTR_OFFSET + ATTR.at.size, true)).toBe(3n);
  });
});
