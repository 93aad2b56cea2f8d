import { expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { close, eventfdRead, eventfdWrite, O_RDONLY, open } from "../../../ffi/libc.ts";
import { setActiveTrace, TraceRecorder } from "../../../src/base/trace_events.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import { buildVirtioDevice } from "../../../src/jail/device_process/device_kinds.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { readable, start, useRig } from "./helpers.ts";

const { rig, running } = useRig();

async function startRng(extra = {}) {
  const p = await start(rig(), "rng", extra);
  running.push(p);
  return p;
}

/** A driver-side queue 0 in the shared memfd, MSI-X vector 0. */
function driverQueue(): FakeDriverQueue {
  const q = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, rig().mem);
  q.queue.vector = 0;
  return q;
}

function activate(p: DeviceProcess, q: FakeDriverQueue): FakeInterrupt {
  const interrupt = new FakeInterrupt();
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig().mem, interrupt, new Map([[0, q.queue]]));
  return interrupt;
}

test("a request on a queue eventfd is served by the device process and signals the vector's irqfd", async () => {
  const p = await startRng();
  const q = driverQueue();
  activate(p, q);
  const { head, addrs } = q.addChain([{ len: 64, writable: true }]);

  eventfdWrite(rig().queueEvents[0]!);

  expect(await readable(rig().irqfds[0]!)).toBe(true);
  expect(eventfdRead(rig().irqfds[0]!)).toBe(1n);
  expect(q.usedIdx()).toBe(1);
  expect(q.usedElem(0)).toEqual({ id: head, len: 64 });
  expect(
    rig()
      .mem.read(addrs[0]!, 64)
      .some((b) => b !== 0),
  ).toBe(true);
});

test("the device process runs under seccomp with no_new_privs", async () => {
  const p = await startRng();

  const status = readFileSync(`/proc/${p.pid}/status`, "utf8");

  expect(status).toMatch(/^Seccomp:\s+2$/m);
  expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
});

test("the device process holds only its given fds and Bun's own event-loop and stdio fds", async () => {
  const p = await startRng();
  const given = 3 + 3 + rig().queueEvents.length + rig().irqfds.length; // control, events, memfd, queues, irqfds

  const fds = readdirSync(`/proc/${p.pid}/fd`).map(Number);
  const target = (fd: number) => readlinkSync(`/proc/${p.pid}/fd/${fd}`);
  const stdio = [0, 1, 2].map(target);
  // Bun's writers for stdout/stderr may hold duplicates of fds 1 and 2: the same files, no new access.
  const unexpected = fds
    .filter((fd) => fd >= given)
    .map(target)
    .filter((t) => !/^anon_inode:\[(eventpoll|eventfd)\]$/.test(t) && !stdio.includes(t));

  for (let fd = 0; fd < given; fd++) expect(fds).toContain(fd);
  expect(unexpected).toEqual([]);
});

test("a descriptor the VMM leaked without CLOEXEC is closed in the device process", async () => {
  const leaked = open(import.meta.path, O_RDONLY);
  try {
    const p = await startRng();

    const targets = readdirSync(`/proc/${p.pid}/fd`).map((fd) => readlinkSync(`/proc/${p.pid}/fd/${fd}`));

    expect(targets).not.toContain(import.meta.path);
  } finally {
    close(leaked);
  }
});

test("the device process is pivoted into the empty pivot root and in its own namespaces", async () => {
  const p = await startRng();

  expect(readdirSync(`/proc/${p.pid}/root`)).toEqual([]);
  for (const ns of ["mnt", "net", "ipc"])
    expect(readlinkSync(`/proc/${p.pid}/ns/${ns}`)).not.toBe(readlinkSync(`/proc/self/ns/${ns}`));
  expect(readlinkSync(`/proc/${p.pid}/ns/pid`)).not.toBe(readlinkSync(`/proc/self/ns/pid`));
});

test("a device process killed by seccomp is reported with device, pid, signal and syscall", async () => {
  const died = Promise.withResolvers<string>();
  const p = await start(rig(), "denied-syscall", {
    options: { trigger: "config-write" },
    onDeviceDied: died.resolve,
  });
  running.push(p);

  p.device.writeConfig(0, Uint8Array.of(1));

  const message = await died.promise;
  expect(message).toBe(
    `device denied-syscall-rng (pid ${p.pid}) died: killed by SIGSYS (seccomp: syscall 83 mkdir)`,
  );
});

test("ReadConfig returns what WriteConfig stored in the device process", async () => {
  const p = await start(rig(), "config-echo");
  running.push(p);

  p.device.writeConfig(4, Uint8Array.of(1, 2, 3, 4));
  const out = new Uint8Array(8);
  p.device.readConfig(2, out);

  expect([...out]).toEqual([0, 0, 1, 2, 3, 4, 0, 0]);
});

test("after Reset the device process can be activated again with fresh queues", async () => {
  const p = await startRng();
  const first = driverQueue();
  activate(p, first);
  first.addChain([{ len: 16, writable: true }]);
  eventfdWrite(rig().queueEvents[0]!);
  expect(await readable(rig().irqfds[0]!)).toBe(true);
  eventfdRead(rig().irqfds[0]!);

  p.device.reset();
  rig().mem.slice(0, 0x20000).fill(0);
  const second = driverQueue();
  activate(p, second);
  second.addChain([{ len: 32, writable: true }]);
  eventfdWrite(rig().queueEvents[0]!);

  expect(await readable(rig().irqfds[0]!)).toBe(true);
  expect(second.usedIdx()).toBe(1);
  expect(second.usedElem(0).len).toBe(32);
});

test("an interrupt on a queue without MSI-X vector reaches the transport through drainEvents", async () => {
  const p = await startRng();
  const q = driverQueue();
  q.queue.vector = 0xffff; // VIRTIO_MSI_NO_VECTOR: INTx mode, the transport must set ISR
  const interrupt = activate(p, q);
  q.addChain([{ len: 8, writable: true }]);

  eventfdWrite(rig().queueEvents[0]!);

  expect(await readable(p.device.eventFd)).toBe(true);
  expect(p.device.drainEvents()).toBe(1);
  expect(interrupt.usedQueueVectors).toEqual([0xffff]);
});

test("activation with rings outside guest memory is refused with the reason", async () => {
  const p = await startRng();
  const q = driverQueue();
  q.queue.usedRing = 0x200000;

  expect(() => activate(p, q)).toThrow(/queue 0: used ring 0x200000\+0x86 lies outside guest RAM/);
});

test("with the sandbox disabled the same rng model runs in-process", () => {
  const { device } = buildVirtioDevice("rng", {}, []);
  const q = driverQueue();
  const interrupt = new FakeInterrupt();
  device.ackFeatures(ALL_RING_FEATURES);
  device.activate(rig().mem, interrupt, new Map([[0, q.activate()]]));
  q.addChain([{ len: 24, writable: true }]);

  device.queueNotify(0);

  expect(q.usedElem(0).len).toBe(24);
  expect(interrupt.usedQueueVectors).toEqual([0]);
});

// Its time is printed, not checked: timing belongs in bench/, and this tier also runs in the emulated rig.
test("5000 ReadConfig round trips in a row each return what WriteConfig stored", async () => {
  const p = await start(rig(), "config-echo");
  running.push(p);
  p.device.writeConfig(0, Uint8Array.of(9, 8, 7, 6));
  const out = new Uint8Array(4);
  const n = 5000;
  let wrong = 0;

  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    out.fill(0);
    p.device.readConfig(0, out);
    if (out[0] !== 9 || out[3] !== 6) wrong++;
  }
  console.log(`ReadConfig round trip: ${((Bun.nanoseconds() - t0) / n / 1000).toFixed(1)} µs`);

  expect(wrong).toBe(0);
});

/** Starts the rng device process while a trace recorder is active (--trace-file), as the VMM does. */
async function startTracedRng(extra = {}) {
  const trace = new TraceRecorder(join(rig().pivotRoot, "..", "unused-trace.json"));
  setActiveTrace(trace);
  try {
    return { trace, p: await startRng(extra) };
  } finally {
    setActiveTrace(undefined);
  }
}

const queueEvents = (trace: TraceRecorder) => trace.events.filter((e) => e.cat === "queue");

test("with --trace-file on, a queue's requests reach the trace as a slice when the device stops", async () => {
  const { trace, p } = await startTracedRng();
  const q = driverQueue();
  activate(p, q);
  q.addChain([{ len: 16, writable: true }]);
  q.addChain([{ len: 16, writable: true }]);
  eventfdWrite(rig().queueEvents[0]!);
  await readable(rig().irqfds[0]!);

  await p.stop();

  // Both requests, in one 50 ms slice or (on a slow host, where one request can take 35 ms) in two.
  const slices = queueEvents(trace);
  const requests = slices.map((e) => (e.args as { requests: number }).requests);
  expect(requests.reduce((a, b) => a + b, 0)).toBe(2);
  for (const slice of slices) {
    expect(slice).toMatchObject({ ph: "X", dur: 50_000 });
    expect((slice.args as { max_us: number }).max_us).toBeGreaterThan(0);
  }
});

test("with --trace-file on, a device left idle sends its last slice on its own", async () => {
  const { trace, p } = await startTracedRng();
  const q = driverQueue();
  activate(p, q);
  q.addChain([{ len: 16, writable: true }]);

  eventfdWrite(rig().queueEvents[0]!);

  expect(await readable(p.device.eventFd, 5000)).toBe(true);
  p.device.drainEvents();
  expect(queueEvents(trace).map((e) => e.name)).toEqual(["1 request"]);
});

test("with --trace-file on, a device in single process mode traces its queue the same way", async () => {
  const { trace, p } = await startTracedRng({ inProcess: true });
  const q = driverQueue();
  activate(p, q);
  q.addChain([{ len: 16, writable: true }]);
  eventfdWrite(rig().queueEvents[0]!);
  await readable(rig().irqfds[0]!);

  await p.stop();

  expect(queueEvents(trace).map((e) => e.name)).toEqual(["1 request"]);
});
