// Single process mode (--disable-sandbox): the device model's serve loop runs in a Worker of this process over the
// same descriptors and protocol, so no device process is started, and nothing is confined.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventfdRead, eventfdWrite } from "../../../ffi/libc.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import { readable, start, useRig } from "./helpers.ts";
import { children, statusField } from "./processes.ts";

const { rig, running } = useRig();

async function startInProcess() {
  const p = await start(rig(), "rng", { inProcess: true });
  running.push(p);
  return p;
}

test("the device runs in a Worker of this process and no process is started", async () => {
  const before = children(process.pid).length;

  const p = await startInProcess();

  expect([p.runner.mode, p.pid, p.proc]).toEqual(["worker", process.pid, undefined]);
  expect(children(process.pid).length).toBe(before);
});

test("a request on a queue eventfd is served by the device Worker and signals the vector's irqfd", async () => {
  const p = await startInProcess();
  const q = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, rig().mem);
  q.queue.vector = 0;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig().mem, new FakeInterrupt(), new Map([[0, q.queue]]));
  const { head } = q.addChain([{ len: 64, writable: true }]);

  eventfdWrite(rig().queueEvents[0]!);

  expect(await readable(rig().irqfds[0]!)).toBe(true);
  expect(eventfdRead(rig().irqfds[0]!)).toBe(1n);
  expect(q.usedElem(0)).toEqual({ id: head, len: 64 });
});

test("the device Worker ends on stop() and this process stays unconfined", async () => {
  const p = await startInProcess();

  await p.stop();

  expect(p.runner.running).toBe(false);
  expect([statusField("self", "Seccomp"), statusField("self", "NoNewPrivs")]).toEqual(["0", "0"]);
});

test("a shared directory's uid and gid do not change the VMM's ids: crosvm ignores them without a jail too", async () => {
  const share = mkdtempSync(join(tmpdir(), "crosvm-single-share-"));
  const ids = () => [process.getuid!(), process.getgid!(), statusField("self", "CapEff")];
  const before = ids();
  try {
    const fsOptions = {
      path: share,
      tag: "t",
      cache: "auto",
      timeout: 5,
      writeback: false,
      rewriteSecurityXattrs: false,
      asciiCasefold: false,
      posixAcl: true,
      uid: 4321,
      gid: 4321,
    };

    // No queues: only what starting the device does to this process is looked at.
    const p = await start(rig(), "fs", { inProcess: true, options: fsOptions, queueEvents: [], irqfds: [] });
    running.push(p);

    expect(p.runner.mode).toBe("worker");
    expect(ids()).toEqual(before);
  } finally {
    rmSync(share, { recursive: true, force: true });
  }
});
