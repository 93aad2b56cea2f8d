// A device process gives back the executable pages it touched only while starting (startup_pages.ts), and
// collects its garbage once it goes idle after a burst of requests (host.ts serve).
import { expect, test } from "bun:test";
import { readFileSync, readlinkSync } from "node:fs";
import { eventfdRead, eventfdWrite } from "../../../ffi/libc.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { scaled } from "../time_scale.ts";
import { readable, start, useRig } from "./helpers.ts";

const { rig, running } = useRig();

/** Resident KiB of the executable's code mapping (r-xp) in process `pid`. */
function residentExecutableCodeKiB(pid: number | "self", exe: string): number {
  let inCode = false;
  let kib = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) inCode = header[1] === "r-xp" && header[2] === exe;
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && inCode) kib += Number(rss[1]);
  }
  return kib;
}

test("a serving device process keeps less than half of the executable code a started Bun process holds", async () => {
  const exe = readlinkSync("/proc/self/exe");
  const p = await start(rig(), "rng");
  running.push(p);
  // This test process runs the same executable and has long finished its own start-up.
  const startedProcessKiB = residentExecutableCodeKiB("self", exe);

  // The device drops its pages right after its Hello, so allow it a moment.
  let deviceKiB = residentExecutableCodeKiB(p.pid, exe);
  for (let i = 0; i < scaled(100) && deviceKiB >= startedProcessKiB / 2; i++) {
    await Bun.sleep(20);
    deviceKiB = residentExecutableCodeKiB(p.pid, exe);
  }

  expect(startedProcessKiB).toBeGreaterThan(0);
  expect(deviceKiB).toBeLessThan(startedProcessKiB / 2);
});

test("a device process idle for a second after a burst of requests still serves the next one", async () => {
  const p = await start(rig(), "rng");
  running.push(p);
  const q = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, rig().mem);
  q.queue.vector = 0;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig().mem, new FakeInterrupt(), new Map([[0, q.queue]]));
  /** One request: a 16-byte buffer for random bytes, the queue kicked, the interrupt awaited. */
  const request = async () => {
    q.setUsedEvent(q.usedIdx()); // EVENT_IDX: signal the next used buffer
    q.addChain([{ len: 16, writable: true }]);
    eventfdWrite(rig().queueEvents[0]!);
    if (await readable(rig().irqfds[0]!)) eventfdRead(rig().irqfds[0]!);
  };
  for (let i = 0; i < 100; i++) await request(); // more wakeups than the idle collection waits for
  await Bun.sleep(1500); // idle: the device collects its garbage

  await request();

  expect(q.usedIdx()).toBe(101);
  expect(p.proc!.exitCode).toBeNull();
});
