// virtio-balloon (virtio 1.2 5.5): features, configuration, inflate/deflate, free page reporting and the stats
// queue, driven through fake rings; the ranges the device gives back are recorded instead of punched (the real
// punch on a sealed memfd is punch.test.ts).
import { describe, expect, test } from "bun:test";
import {
  BALLOON_PAGE_SIZE,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_PAGE_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
} from "../../../../src/devices/virtio/balloon/constants.ts";
import {
  BalloonEvent,
  BalloonStatsReply,
  decodeActualEvent,
  decodeReport,
  encodeAdjust,
} from "../../../../src/devices/virtio/balloon/control.ts";
import { VirtioBalloon } from "../../../../src/devices/virtio/balloon/device.ts";
import { MAX_PFNS_PER_CHAIN, type MemfdRange } from "../../../../src/devices/virtio/balloon/pfn.ts";
import { featureBit } from "../../../../src/devices/virtio/constants.ts";
import { FakeDriverQueue, FakeInterrupt } from "../../../../src/devices/virtio/testing.ts";

const STATS_REQUEST = Uint8Array.of(2);
/** The fake driver's guest RAM (FakeDriverQueue's default 1 MiB), in balloon pages. */
const RAM_PAGES = (1 << 20) / BALLOON_PAGE_SIZE;

function pfnBytes(pfns: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * pfns.length);
  const v = new DataView(out.buffer);
  pfns.forEach((p, i) => v.setUint32(4 * i, p, true));
  return out;
}

function statEntries(list: readonly [number, bigint][]): Uint8Array {
  const out = new Uint8Array(10 * list.length);
  const v = new DataView(out.buffer);
  list.forEach(([tag, val], i) => {
    v.setUint16(10 * i, tag, true);
    v.setBigUint64(10 * i + 2, val, true);
  });
  return out;
}

interface Setup {
  readonly device: VirtioBalloon;
  readonly driver: FakeDriverQueue;
  readonly interrupt: FakeInterrupt;
  readonly released: MemfdRange[];
}

/** A balloon whose driver accepted `features` (default: all offered) with one ring enabled at `index`. */
function setup(
  index: number,
  o: { pageReporting?: boolean; initialPages?: number; features?: bigint } = {},
): Setup {
  const released: MemfdRange[] = [];
  const device = new VirtioBalloon({
    pageReporting: o.pageReporting ?? false,
    initialPages: o.initialPages ?? 0,
    release: (_mem, ranges) => released.push(...ranges),
  });
  device.ackFeatures(o.features ?? device.features());
  const driver = new FakeDriverQueue(16);
  const interrupt = new FakeInterrupt();
  device.activate(driver.mem, interrupt, new Map([[index, driver.activate()]]));
  return { device, driver, interrupt, released };
}

function configU32(device: VirtioBalloon, offset: number): number {
  const data = new Uint8Array(4);
  device.readConfig(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}

describe("features and configuration (5.5.3, 5.5.4)", () => {
  test("offers MUST_TELL_HOST, STATS_VQ and DEFLATE_ON_OOM, and PAGE_REPORTING only when asked", () => {
    const plain = new VirtioBalloon({ pageReporting: false, initialPages: 0 }).features();
    const reporting = new VirtioBalloon({ pageReporting: true, initialPages: 0 }).features();
    const bits = [
      VIRTIO_BALLOON_F_MUST_TELL_HOST,
      VIRTIO_BALLOON_F_STATS_VQ,
      VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
      VIRTIO_BALLOON_F_PAGE_REPORTING,
    ].map((b) => [(plain & featureBit(b)) !== 0n, (reporting & featureBit(b)) !== 0n]);

    expect(bits).toEqual([
      [true, true],
      [true, true],
      [true, true],
      [false, true],
    ]);
  });

  test("num_pages starts at the initial size (--init-mem) and actual at 0", () => {
    const device = new VirtioBalloon({ pageReporting: false, initialPages: 1234 });

    expect([configU32(device, 0), configU32(device, 4)]).toEqual([1234, 0]);
  });

  test("an adjust request sets num_pages and signals a configuration change", () => {
    const { device, interrupt } = setup(0);

    const answer = device.controlRequest(encodeAdjust(4096));

    expect(answer.length).toBe(0);
    expect(configU32(device, 0)).toBe(4096);
    expect(interrupt.configChanges).toBe(1);
  });

  test("the driver's write to actual is kept and reported as an event; num_pages ignores writes", () => {
    const { device, interrupt } = setup(0);

    device.writeConfig(0, pfnBytes([77, 128]));

    expect([configU32(device, 0), configU32(device, 4)]).toEqual([0, 128]);
    expect(interrupt.deviceEvents.map((e) => [e[0], decodeActualEvent(e)])).toEqual([
      [BalloonEvent.Actual, 128],
    ]);
  });

  test("an actual beyond guest RAM is reported as all of guest RAM, in the event", () => {
    const { device, interrupt } = setup(0);

    device.writeConfig(4, pfnBytes([0xffff_ffff]));

    expect(interrupt.deviceEvents.map(decodeActualEvent)).toEqual([RAM_PAGES]);
  });

  test("an actual beyond guest RAM is reported as all of guest RAM, in a stats answer", () => {
    const { device } = setup(0);
    device.writeConfig(4, pfnBytes([RAM_PAGES + 1]));

    const answer = device.controlRequest(STATS_REQUEST);

    expect(decodeReport(answer).actualPages).toBe(RAM_PAGES);
  });

  test("before a driver started the device, the balloon is reported empty whatever actual says", () => {
    const device = new VirtioBalloon({ pageReporting: false, initialPages: 0 });
    device.writeConfig(4, pfnBytes([100]));

    const answer = device.controlRequest(STATS_REQUEST);

    expect(decodeReport(answer).actualPages).toBe(0);
  });

  test("a config read past the 16 bytes of the structure reads zeros", () => {
    const device = new VirtioBalloon({ pageReporting: false, initialPages: 5 });
    const data = new Uint8Array(8).fill(0xaa);

    device.readConfig(14, data);

    expect([...data]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("inflate and deflate queues (5.5.6.1)", () => {
  test("inflated frames go back to the host as memfd ranges and the chain is used", () => {
    const { device, driver, interrupt, released } = setup(0);
    driver.addChain([{ data: pfnBytes([0x80, 0x81, 0x90]) }]);

    device.queueNotify(0);

    expect(released).toEqual([
      { offset: 0x80000, length: 0x2000 },
      { offset: 0x90000, length: 0x1000 },
    ]);
    expect([driver.usedIdx(), driver.usedElem(0).len]).toEqual([1, 0]);
    expect(interrupt.usedQueueVectors.length).toBe(1);
    expect(device.releasedBytes).toBe(0x3000);
  });

  test("a frame outside guest RAM is refused: only the frames inside are given back", () => {
    const { device, driver, released } = setup(0);
    driver.addChain([{ data: pfnBytes([0x80, 0x10_0000, 0xffff_ffff]) }]);

    device.queueNotify(0);

    expect(released).toEqual([{ offset: 0x80000, length: 0x1000 }]);
    expect(driver.usedIdx()).toBe(1);
  });

  test("a chain with more than MAX_PFNS_PER_CHAIN frames is refused whole", () => {
    const { device, driver, released } = setup(0);
    driver.addChain([{ data: pfnBytes(Array.from({ length: MAX_PFNS_PER_CHAIN + 1 }, () => 0x80)) }]);

    device.queueNotify(0);

    expect(released).toEqual([]);
    expect(driver.usedIdx()).toBe(1);
  });

  test("deflated frames are acknowledged without touching memory (the guest's next touch faults them in)", () => {
    const { device, driver, released } = setup(1);
    driver.addChain([{ data: pfnBytes([0x80, 0x81]) }]);

    device.queueNotify(1);

    expect(released).toEqual([]);
    expect(driver.usedIdx()).toBe(1);
  });
});

describe("free page reporting (5.5.6.6)", () => {
  test("a reported range goes back to the host", () => {
    const { device, driver, released } = setup(3, { pageReporting: true });
    driver.writeLinkedDescriptors(0x1000, 0, [{ addr: 0x40000, len: 0x20000, writable: true }]);
    driver.publish(0);

    device.queueNotify(3);

    expect(released).toEqual([{ offset: 0x40000, length: 0x20000 }]);
    expect(driver.usedIdx()).toBe(1);
  });

  test("the reporting queue is queue 2 when the driver did not accept STATS_VQ (queues have no gaps)", () => {
    const all = new VirtioBalloon({ pageReporting: true, initialPages: 0 }).features();
    const { device, driver, released } = setup(2, {
      pageReporting: true,
      features: all & ~featureBit(VIRTIO_BALLOON_F_STATS_VQ),
    });
    driver.writeLinkedDescriptors(0x1000, 0, [{ addr: 0x40000, len: 0x1000, writable: true }]);
    driver.publish(0);

    device.queueNotify(2);

    expect(released).toEqual([{ offset: 0x40000, length: 0x1000 }]);
  });
});

describe("stats queue (5.5.6.3)", () => {
  test("the driver's first buffer is held, not used", () => {
    const { device, driver } = setup(2);
    driver.addChain([{ data: statEntries([[4, 1n]]) }]);

    device.queueNotify(2);

    expect(driver.usedIdx()).toBe(0);
  });

  test("a stats request returns the held buffer and answers later with the refilled figures", () => {
    const { device, driver, interrupt } = setup(2);
    device.writeConfig(4, pfnBytes([256]));
    driver.addChain([{ data: statEntries([[4, 1n]]) }]);
    device.queueNotify(2);

    const first = device.controlRequest(STATS_REQUEST);
    driver.addChain([
      {
        data: statEntries([
          [4, 100n << 20n],
          [5, 256n << 20n],
        ]),
      },
    ]);
    device.queueNotify(2);

    expect(first[0]).toBe(BalloonStatsReply.Pending);
    expect(driver.usedIdx()).toBe(1);
    const events = interrupt.deviceEvents.filter((e) => e[0] === BalloonEvent.Stats).map(decodeReport);
    expect(events.length).toBe(1);
    expect(events[0]!.actualPages).toBe(256);
    expect([events[0]!.stats.freeMemory, events[0]!.stats.totalMemory, events[0]!.stats.swapIn]).toEqual([
      100 * 2 ** 20,
      256 * 2 ** 20,
      null,
    ]);
  });

  test("a second request while one is pending waits for the same answer", () => {
    const { device, driver } = setup(2);
    driver.addChain([{ data: statEntries([]) }]);
    device.queueNotify(2);
    device.controlRequest(STATS_REQUEST);

    const second = device.controlRequest(STATS_REQUEST);

    expect(second[0]).toBe(BalloonStatsReply.Pending);
    expect(driver.usedIdx()).toBe(1);
  });

  test("with no buffer held the request is answered at once with what the device knows", () => {
    const device = new VirtioBalloon({ pageReporting: false, initialPages: 0 });

    const answer = device.controlRequest(STATS_REQUEST);

    expect(answer[0]).toBe(BalloonStatsReply.Now);
    expect(decodeReport(answer).stats.freeMemory).toBeNull();
  });

  test("an unknown request is refused", () => {
    const device = new VirtioBalloon({ pageReporting: false, initialPages: 0 });

    expect(() => device.controlRequest(Uint8Array.of(9))).toThrow("unknown balloon request 9");
  });
});
