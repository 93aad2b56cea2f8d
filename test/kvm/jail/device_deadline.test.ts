// A device process that stops answering (here: SIGSTOP) must not hang the VMM: a request waits at most the reply
// deadline, then fails with a one-line reason, the device is reported once and killed, and later requests fail
// at once without waiting again.
import { expect, test } from "bun:test";
import { DeviceUnresponsiveError } from "../../../src/jail/device_process/proxy_device.ts";
import { start, useRig } from "./helpers.ts";

const { rig, running } = useRig();
const DEADLINE_MS = 1000;

async function startSilentRng(reports: string[]) {
  const p = await start(rig(), "rng", {
    replyDeadlineMs: DEADLINE_MS,
    onDeviceDied: (message) => reports.push(message),
  });
  running.push(p);
  process.kill(p.pid, "SIGSTOP");
  return p;
}

test("a config read to a stopped device process fails after the deadline, naming the device and its pid", async () => {
  const p = await startSilentRng([]);

  const started = performance.now();
  let error: unknown;
  try {
    p.device.readConfig(0, new Uint8Array(4));
  } catch (e) {
    error = e;
  }
  const waited = performance.now() - started;

  expect(error).toBeInstanceOf(DeviceUnresponsiveError);
  expect((error as Error).message).toBe(
    `device virtio-rng (pid ${p.pid}) did not answer within ${DEADLINE_MS} ms`,
  );
  expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS - 1);
  // Not much longer than the deadline: a loaded or emulated machine (the rig) may add a second or two, no more.
  expect(waited).toBeLessThan(DEADLINE_MS + 3000);
});

test("an unresponsive device process is reported once and killed", async () => {
  const reports: string[] = [];
  const p = await startSilentRng(reports);

  expect(() => p.device.readConfig(0, new Uint8Array(4))).toThrow(DeviceUnresponsiveError);
  await p.runner.exited;
  await Bun.sleep(50);

  expect(reports).toEqual([`device virtio-rng (pid ${p.pid}) did not answer within ${DEADLINE_MS} ms`]);
  expect(p.runner.running).toBe(false);
});

test("after a missed deadline later requests fail at once", async () => {
  const p = await startSilentRng([]);
  expect(() => p.device.readConfig(0, new Uint8Array(4))).toThrow(DeviceUnresponsiveError);

  const started = performance.now();
  expect(() => p.device.readConfig(0, new Uint8Array(4))).toThrow(/stopped answering; not asking it again/);

  // At once: well short of the deadline a request that asked would wait (a loaded rig took 130 ms here).
  expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
});
