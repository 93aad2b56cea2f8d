import { expect, test } from "bun:test";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close, eventfdWrite } from "../../../ffi/libc.ts";
import { ALL_RING_FEATURES, FakeDriverQueue, FakeInterrupt } from "../../../src/devices/virtio/testing.ts";
import type { DeviceProcess } from "../../../src/jail/device_process/spawn.ts";
import { start, useRig } from "./helpers.ts";

const { rig, running } = useRig();

async function started(kind: string, extra = {}) {
  const p = await start(rig(), kind, extra);
  running.push(p);
  return p;
}

test("a block device process answers config reads with the image's capacity", async () => {
  const image = join(rig().pivotRoot, "..", `jail-test-${process.pid}.img`);
  writeFileSync(image, new Uint8Array(1 << 20));
  const p = await started("block", {
    options: { path: image, readOnly: false, sparse: true, blockSize: 512, direct: false, lock: true },
  });
  rmSync(image);

  const out = new Uint8Array(8);
  p.device.readConfig(0, out);

  expect(new DataView(out.buffer).getBigUint64(0, true)).toBe(2048n);
});

test("queue notifications while asleep are processed on wake", async () => {
  const p = await started("rng");
  const q = new FakeDriverQueue(16, ALL_RING_FEATURES, 1 << 20, rig().mem);
  q.queue.vector = 0;
  p.device.ackFeatures(ALL_RING_FEATURES);
  p.device.activate(rig().mem, new FakeInterrupt(), new Map([[0, q.queue]]));
  p.device.sleep();
  q.addChain([{ len: 8, writable: true }]);
  eventfdWrite(rig().queueEvents[0]!);
  // Two round trips: the loop iteration that saw the eventfd has finished by the second reply.
  p.device.readConfig(0, new Uint8Array(1));
  p.device.readConfig(0, new Uint8Array(1));
  expect(q.usedIdx()).toBe(0);

  p.device.wake();

  expect(q.usedIdx()).toBe(1);
});

test("a device kind the device process does not know fails its start with the cause", async () => {
  await expect(start(rig(), "no-such-device")).rejects.toThrow(
    /^device no-such-device \(pid \d+\) died: exited with status 1 before it was ready$/,
  );
});

test("a device process killed by SIGKILL is reported with that signal", async () => {
  const died = Promise.withResolvers<string>();
  const p = await started("rng", { onDeviceDied: died.resolve });

  p.proc!.kill("SIGKILL");

  expect(await died.promise).toBe(`device virtio-rng (pid ${p.pid}) died: killed by SIGKILL`);
});

test("the device process exits when the VMM closes its socket", async () => {
  const p = await start(rig(), "rng");

  close(p.device.controlFd);

  expect(await p.proc!.exited).toBe(0);
  close(p.device.eventFd);
});

test("with --seccomp-log-failures a denied syscall is allowed, inside the pivot root", async () => {
  const p = await started("denied-syscall", {
    options: { trigger: "config-write" },
    sandbox: { pivotRoot: rig().pivotRoot, logFailures: true },
  });

  p.device.writeConfig(0, Uint8Array.of(1));
  p.device.readConfig(0, new Uint8Array(1));

  expect(existsSync(join(rig().pivotRoot, "x"))).toBe(true);
  expect(p.proc!.exitCode).toBeNull();
});

test("a proxy revived in a Worker reaches the same device process", async () => {
  const p = await started("config-echo");
  p.device.writeConfig(0, Uint8Array.of(7, 6, 5, 4));
  const worker = new Worker(new URL("./proxy_worker.ts", import.meta.url));
  const reply = new Promise<number[]>((resolve) => {
    worker.onmessage = (e: MessageEvent<number[]>) => resolve(e.data);
  });

  worker.postMessage(p.device.share());

  expect(await reply).toEqual([7, 6, 5, 4]);
  worker.terminate();
});
