// virtio-balloon in its sandboxed device process: inflated pages are punched out of the guest-RAM memfd under the
// balloon's seccomp policy, and `balloon SIZE` / `balloon_stats` reach the model through the kind's control hook,
// the protocol's DeviceRequest and the EventDevice events the VMM drains (the test drains them here).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { fstatSync } from "node:fs";
import { eventfdRead, eventfdWrite } from "../../../ffi/libc.ts";
import { balloonKind, type BalloonOptions } from "../../../src/devices/virtio/balloon/kind.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { scaled } from "../time_scale.ts";
import { makeRig, readable, type Rig, start } from "./helpers.ts";

const MIB = 1 << 20;
const INFLATE = 0;
const STATS = 2;
const options: BalloonOptions = { pageReporting: false, initialPages: 0, memoryPages: (4 * MIB) / 4096 };

let rig: Rig;
let p: DeviceProcess | undefined;
beforeEach(() => {
  rig = makeRig(4, 5, 4 * MIB);
});
afterEach(async () => {
  await p?.stop();
  p = undefined;
  rig.dispose();
});

async function startBalloon(): Promise<DeviceProcess> {
  p = await start(rig, "balloon", { options });
  return p;
}

/** The driver's ring for queue `index` in the shared memfd (one ring per test: the fake's addresses are fixed). */
function activate(device: DeviceProcess, index: number): { q: FakeDriverQueue; interrupt: FakeInterrupt } {
  const q = new FakeDriverQueue(16, ALL_RING_FEATURES, 4 * MIB, rig.mem);
  q.queue.vector = index;
  const interrupt = new FakeInterrupt();
  device.device.ackFeatures(device.device.features());
  device.device.activate(rig.mem, interrupt, new Map([[index, q.queue]]));
  return { q, interrupt };
}

function pfnBytes(pfns: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * pfns.length);
  const v = new DataView(out.buffer);
  pfns.forEach((n, i) => v.setUint32(4 * i, n, true));
  return out;
}

test("inflated pages are punched out of the memfd by the confined device process", async () => {
  const device = await startBalloon();
  const { q } = activate(device, INFLATE);
  rig.mem.slice(2 * MIB, MIB).fill(0x5a);
  // The rings' pages too (the last byte of each, past every ring), so that the device's writes allocate nothing.
  for (let page = 0; page < 0x20000; page += 4096) rig.mem.writeU8(page + 4095, 0);
  const before = fstatSync(rig.mem.memfd).blocks * 512;
  q.addChain([{ data: pfnBytes(Array.from({ length: 256 }, (_, i) => 512 + i)) }]);

  eventfdWrite(rig.queueEvents[INFLATE]!);

  expect(await readable(rig.irqfds[INFLATE]!, scaled(5000))).toBe(true);
  eventfdRead(rig.irqfds[INFLATE]!);
  expect(before - fstatSync(rig.mem.memfd).blocks * 512).toBe(MIB);
  expect([rig.mem.readU8(2 * MIB), rig.mem.readU8(3 * MIB - 1)]).toEqual([0, 0]);
  expect(q.usedIdx()).toBe(1);
});

test("balloon SIZE sets num_pages in the device's configuration", async () => {
  const device = await startBalloon();
  activate(device, INFLATE);

  await balloonKind.control!.handle(
    options,
    { type: "balloon-adjust", bytes: MIB, wait: false },
    device.device,
  );

  const config = new Uint8Array(4);
  device.device.readConfig(0, config);
  expect(new DataView(config.buffer).getUint32(0, true)).toBe(256);
});

test("balloon_stats returns the held buffer and answers with the guest's refilled figures", async () => {
  const device = await startBalloon();
  const { q, interrupt } = activate(device, STATS);
  const entry = (tag: number, val: bigint) => {
    const b = new Uint8Array(10);
    new DataView(b.buffer).setUint16(0, tag, true);
    new DataView(b.buffer).setBigUint64(2, val, true);
    return b;
  };
  q.addChain([{ data: entry(4, 1n) }]);
  eventfdWrite(rig.queueEvents[STATS]!);
  // The device took the buffer once it moved avail_event past it (EVENT_IDX, 2.7.10).
  for (let i = 0; i < 500 && q.availEvent() !== 1; i++) await Bun.sleep(10);

  const answer = balloonKind.control!.handle(options, { type: "balloon-stats" }, device.device);
  // The driver's part: the buffer comes back used; it refills it and queues it again.
  expect(await readable(rig.irqfds[STATS]!, scaled(5000))).toBe(true);
  q.addChain([{ data: new Uint8Array([...entry(4, 123n << 20n), ...entry(5, 4n << 20n)]) }]);
  eventfdWrite(rig.queueEvents[STATS]!);
  // The VMM's part: drain the event socket into the hook.
  let reply: unknown;
  void Promise.resolve(answer).then((r) => (reply = r));
  for (let i = 0; i < 100 && reply === undefined; i++) {
    if (await readable(device.device.eventFd, scaled(50))) device.device.drainEvents(interrupt);
    await Bun.sleep(1);
  }

  expect(q.usedIdx()).toBe(1);
  expect(reply).toMatchObject({ actualBytes: 0, stats: { freeMemory: 123 * MIB, totalMemory: 4 * MIB } });
});
